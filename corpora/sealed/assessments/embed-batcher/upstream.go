package batcher

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Embedder turns texts into vectors: one per text, in the same order.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

type EmbedderFactory func(cfg UpstreamConfig) (Embedder, error)

var factories = map[string]EmbedderFactory{"http": newHTTPEmbedder}

func NewEmbedder(kind string, cfg UpstreamConfig) (Embedder, error) {
	if factory, ok := factories[kind]; ok {
		return factory(cfg)
	}
	return nil, fmt.Errorf("unknown embedder kind %q", kind)
}

type UpstreamConfig struct {
	URL         string
	MaxAttempts int
	Timeout     time.Duration // per HTTP attempt
}

type httpEmbedder struct {
	cfg    UpstreamConfig
	client *http.Client
}

func newHTTPEmbedder(cfg UpstreamConfig) (Embedder, error) {
	return &httpEmbedder{cfg: cfg, client: &http.Client{Timeout: cfg.Timeout}}, nil
}

func (h *httpEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	body, _ := json.Marshal(map[string]any{"inputs": texts, "truncate": true})
	for attempt := 1; ; attempt++ {
		vecs, retryable, err := h.post(ctx, body, len(texts))
		if err == nil || !retryable || attempt >= h.cfg.MaxAttempts {
			return vecs, err
		}
		select {
		case <-time.After(100 * time.Millisecond << (attempt - 1)):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// post makes one attempt and reports whether a failure is worth retrying.
func (h *httpEmbedder) post(ctx context.Context, body []byte, n int) ([][]float32, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.cfg.URL+"/embed", bytes.NewReader(body))
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		err := fmt.Errorf("Upstream returned %d.", resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			return nil, true, err
		}
		return nil, false, err
	}
	var vecs [][]float32
	if err := json.NewDecoder(resp.Body).Decode(&vecs); err != nil {
		return nil, false, fmt.Errorf("decoding embeddings: %w", err)
	}
	if len(vecs) != n {
		return nil, false, fmt.Errorf("Upstream returned %d embeddings for %d texts.", len(vecs), n)
	}
	return vecs, false, nil
}
