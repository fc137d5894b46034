package batcher

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type BatcherConfig struct {
	MaxBatch     int           // texts per upstream call; the model server takes up to 64
	MaxWait      time.Duration // how long the first request of a batch waits for company
	MaxInFlight  int           // concurrent upstream calls
	FlushTimeout time.Duration // deadline for one upstream call, retries included
	CacheSize    int           // embeddings kept in memory
}

var (
	batchSize = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "embed_batch_size",
		Help: "Texts per upstream call.", Buckets: prometheus.ExponentialBuckets(1, 2, 7)})
	cacheRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "embed_cache_requests_total",
		Help: "Cache lookups by result."}, []string{"result"})
)

func init() { prometheus.MustRegister(batchSize, cacheRequests) }

type request struct {
	text  string
	reply chan result
}

type result struct {
	vec []float32
	err error
}

type Batcher struct {
	cfg      BatcherConfig
	up       Embedder
	queue    chan *request
	inflight chan struct{}
	cache    *lru
}

func New(cfg BatcherConfig, up Embedder) *Batcher {
	return &Batcher{cfg: cfg, up: up, queue: make(chan *request, 16*cfg.MaxBatch),
		inflight: make(chan struct{}, cfg.MaxInFlight),
		cache:    &lru{size: cfg.CacheSize, ll: list.New(), items: map[string]*list.Element{}},
	}
}

func (b *Batcher) Embed(ctx context.Context, text string) ([]float32, error) {
	if vec, ok := b.cache.Get(text); ok {
		cacheRequests.WithLabelValues("hit").Inc()
		return vec, nil
	}
	cacheRequests.WithLabelValues("miss").Inc()
	req := &request{text: text, reply: make(chan result)}
	select {
	case b.queue <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case res := <-req.reply:
		return res.vec, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Run collects queued requests into batches until ctx is done. Start it once.
func (b *Batcher) Run(ctx context.Context) {
	var batch []*request
	var timeout <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-b.queue:
			batch = append(batch, req)
			if len(batch) == 1 {
				timeout = time.After(b.cfg.MaxWait)
			}
			if len(batch) < b.cfg.MaxBatch {
				continue
			}
		case <-timeout:
		}
		b.inflight <- struct{}{}
		go b.flush(batch)
		batch, timeout = nil, nil
	}
}

func (b *Batcher) flush(batch []*request) {
	defer func() { <-b.inflight }()
	// Detached from the callers' contexts: this call serves the whole batch.
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.FlushTimeout)
	defer cancel()
	texts := make([]string, 0, len(batch))
	seen := make(map[string]bool, len(batch))
	for _, r := range batch {
		if !seen[r.text] {
			seen[r.text] = true
			texts = append(texts, r.text)
		}
	}
	batchSize.Observe(float64(len(texts)))
	vecs, err := b.up.Embed(ctx, texts)
	if err != nil {
		for _, r := range batch {
			r.reply <- result{err: err}
		}
		return
	}
	for i, text := range texts {
		b.cache.Add(text, vecs[i])
		batch[i].reply <- result{vec: vecs[i]}
	}
}

type entry struct {
	key string
	vec []float32
}

// lru is a fixed-size, least-recently-used cache of embeddings.
type lru struct {
	mu    sync.RWMutex
	size  int
	ll    *list.List
	items map[string]*list.Element
}

func (c *lru) Get(key string) ([]float32, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.ll.MoveToFront(el)
	return el.Value.(*entry).vec, true
}

func (c *lru) Add(key string, vec []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.ll.Remove(el)
	}
	c.items[key] = c.ll.PushFront(&entry{key: key, vec: vec})
	if c.ll.Len() > c.size {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*entry).key)
	}
}
