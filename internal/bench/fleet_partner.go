package bench

import (
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// ratedPartner is the partner of the fleet benchmark: an HTTP server on
// loopback that accepts limit requests a second (a token bucket of one
// second's worth, as partners publishing "N per second" commonly grant)
// and answers 429 to the rest. It keeps every request's arrival time and
// status.
type ratedPartner struct {
	srv     *http.Server
	url     string
	limiter *rate.Limiter

	mu   sync.Mutex
	hits []partnerHit
}

// partnerHit is one request the partner saw.
type partnerHit struct {
	at      time.Time
	refused bool // answered 429
}

func startRatedPartner(limit float64) (*ratedPartner, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &ratedPartner{url: "http://" + ln.Addr().String() + "/hook", limiter: rate.NewLimiter(rate.Limit(limit), max(1, int(limit)))}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *ratedPartner) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	ok := p.limiter.AllowN(now, 1)
	p.mu.Lock()
	p.hits = append(p.hits, partnerHit{at: now, refused: !ok})
	p.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusTooManyRequests)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// seen returns a copy of the requests seen so far.
func (p *ratedPartner) seen() []partnerHit {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]partnerHit(nil), p.hits...)
}

func (p *ratedPartner) close() { _ = p.srv.Close() }
