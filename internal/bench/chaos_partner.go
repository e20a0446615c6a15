package bench

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// chaosPartner is the partner of the chaos comparison: an HTTP server on
// loopback that takes Latency to answer 200 and records each request by
// its Idempotency-Key (the record's id), so that the parent can count the
// records never delivered and those delivered more than once.
type chaosPartner struct {
	srv     *http.Server
	url     string
	latency time.Duration

	mu    sync.Mutex
	count map[string]int // deliveries by key
	times []time.Time    // when each delivered request arrived
}

func startChaosPartner(latency time.Duration) (*chaosPartner, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &chaosPartner{url: "http://" + ln.Addr().String() + "/hook", latency: latency, count: map[string]int{}}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *chaosPartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		http.Error(w, "no Idempotency-Key", http.StatusBadRequest)
		return
	}
	arrived := time.Now()
	time.Sleep(p.latency)
	// Counted as delivered when the answer is decided: a client that
	// gives up on the request after this point has still delivered it,
	// as far as the partner is concerned.
	p.mu.Lock()
	p.count[key]++
	p.times = append(p.times, arrived)
	p.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

// distinct returns how many different records were delivered.
func (p *chaosPartner) distinct() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.count)
}

// snapshot returns a copy of the deliveries by key and the times their
// requests arrived (in the order they were answered).
func (p *chaosPartner) snapshot() (map[string]int, []time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := make(map[string]int, len(p.count))
	for k, n := range p.count {
		c[k] = n
	}
	return c, append([]time.Time(nil), p.times...)
}

func (p *chaosPartner) close() { _ = p.srv.Close() }
