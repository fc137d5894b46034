package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"time"
)

// Proxy serves POST /v1/embeddings: it charges the tenant's budget, then forwards the body.
type Proxy struct {
	Limiter    *Limiter
	Upstream   string // the provider's embeddings URL
	APIKey     string
	Client     *http.Client
	MaxRetries int
}

type embeddingsRequest struct {
	Model string   `json:"model"`
	Input []string `json:"input"`
}

type embeddingsResponse struct {
	Data  json.RawMessage `json:"data"`
	Usage struct {
		TotalTokens int `json:"total_tokens"`
	} `json:"usage"`
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tenant := r.Header.Get("X-Tenant-ID")
	if tenant == "" {
		http.Error(w, "missing tenant", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	var req embeddingsRequest
	if err := json.Unmarshal(body, &req); err != nil || len(req.Input) == 0 {
		http.Error(w, "expected {\"model\", \"input\": [...]}", http.StatusBadRequest)
		return
	}
	res, wait, ok := p.Limiter.Reserve(tenant, EstimateTokens(req.Input))
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		http.Error(w, "token budget exhausted", http.StatusTooManyRequests)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Second)
	defer cancel()
	out, err := p.call(ctx, body)
	if err != nil {
		log.Printf("tenant %s: embeddings upstream: %v", tenant, err)
		http.Error(w, "upstream error", http.StatusBadGateway)
		return
	}
	p.Limiter.Settle(res, out.Usage.TotalTokens)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Budget-Remaining", strconv.Itoa(p.Limiter.Remaining(tenant)))
	json.NewEncoder(w).Encode(out)
}

// call posts body to the provider, retrying rate limits and server errors with backoff.
func (p *Proxy) call(ctx context.Context, body []byte) (*embeddingsResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.Upstream, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+p.APIKey)
	req.Header.Set("Content-Type", "application/json")

	var lastErr error
	for attempt := 0; attempt <= p.MaxRetries; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt*attempt) * 200 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		resp, err := p.Client.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 {
			resp.Body.Close()
			lastErr = fmt.Errorf("upstream status %d", resp.StatusCode)
			continue
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return nil, fmt.Errorf("upstream status %d: %s", resp.StatusCode, msg)
		}
		var out embeddingsResponse
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			return nil, fmt.Errorf("decode upstream response: %v", err)
		}
		return &out, nil
	}
	return nil, lastErr
}
