package bench

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// faultyPartner is the partner of the end-to-end comparison: an HTTP
// server on loopback that answers a record's POST with 200 after Latency,
// except that
//
//   - FailShare of the requests are answered 503 (after Latency, with no
//     Retry-After);
//   - HoldShare of them are processed (the record counts as accepted when
//     the request arrives) and then held for Hold, or until the client
//     gives up: a partner that did the work but answers too late;
//   - once downAfter distinct records have been accepted it is down for
//     DownFor: it still accepts connections and reads requests, but
//     answers every request 503 at once, as a load balancer in front of a
//     dead backend does, so the requests sent to it while down are
//     counted.
//
// Which requests fail or are held is decided by a hash of the seed, the
// record's number (read from the JSON body, {"n": 42}) and how many
// requests for that record came before: the same record meets the same
// faults in the same order whatever client sends it.
type faultyPartner struct {
	srv *http.Server
	url string
	cfg E2EConfig

	downAfter int // distinct records accepted before the down window

	mu        sync.Mutex
	arrivals  map[int]int // requests per record so far
	accepted  map[int]int // acceptances per record (200, or processed and held)
	downFrom  time.Time   // zero until the down window starts
	downUntil time.Time
	resumed   time.Time // the first acceptance after the down window
	stats     partnerStats
}

// partnerStats is what the partner counted.
type partnerStats struct {
	requests  int // every request received
	whileDown int // received during the down window (all answered 503)
	served503 int // answered 503, in and out of the down window
	held      int // held past the client's timeout
	malformed int // requests without a record number (answered 400)
}

func startFaultyPartner(cfg E2EConfig) (*faultyPartner, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &faultyPartner{
		url: "http://" + ln.Addr().String() + "/records", cfg: cfg,
		downAfter: max(1, cfg.Records/2),
		arrivals:  make(map[int]int, cfg.Records), accepted: make(map[int]int, cfg.Records),
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// partnerFate is what the partner does with one request.
type partnerFate uint8

const (
	fateOK   partnerFate = iota // 200 after Latency
	fate503                     // 503 after Latency
	fateHold                    // processed, answer held for Hold
	fateDown                    // 503 at once: the down window
)

func (p *faultyPartner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n, err := recordNumber(r.Body)
	if err != nil {
		p.mu.Lock()
		p.stats.requests++
		p.stats.malformed++
		p.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fate := p.arrive(n, time.Now())
	switch fate {
	case fateDown:
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	case fateHold:
		t := time.NewTimer(p.cfg.Hold)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return // the client gave up; the record was processed anyway
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	t := time.NewTimer(p.cfg.Latency)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	if fate == fate503 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	p.accept(n, time.Now())
	w.WriteHeader(http.StatusOK)
}

// arrive counts a request for record n arriving at now and decides its
// fate; a held request's record is accepted here, as it is processed.
func (p *faultyPartner) arrive(n int, now time.Time) partnerFate {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := p.arrivals[n]
	p.arrivals[n] = k + 1
	p.stats.requests++
	if !p.downFrom.IsZero() && !now.Before(p.downFrom) && now.Before(p.downUntil) {
		p.stats.whileDown++
		p.stats.served503++
		return fateDown
	}
	switch u := fateDraw(p.cfg.Seed, n, k); {
	case u < p.cfg.HoldShare:
		p.stats.held++
		p.acceptLocked(n, now)
		return fateHold
	case u < p.cfg.HoldShare+p.cfg.FailShare:
		p.stats.served503++
		return fate503
	}
	return fateOK
}

func (p *faultyPartner) accept(n int, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.acceptLocked(n, now)
}

// acceptLocked counts an acceptance of record n and starts the down
// window when the downAfter-th distinct record is accepted.
func (p *faultyPartner) acceptLocked(n int, now time.Time) {
	p.accepted[n]++
	if !p.downFrom.IsZero() && p.resumed.IsZero() && !now.Before(p.downUntil) {
		p.resumed = now
	}
	if p.accepted[n] == 1 && len(p.accepted) == p.downAfter && p.downFrom.IsZero() {
		p.downFrom, p.downUntil = now, now.Add(p.cfg.DownFor)
	}
}

// fateDraw returns a number in [0, 1) that depends only on seed, the
// record's number n and the request's index k among that record's
// requests (splitmix64's finaliser over the three).
func fateDraw(seed uint64, n, k int) float64 {
	x := seed ^ uint64(n)*0x9E3779B97F4A7C15 ^ uint64(k+1)*0xC2B2AE3D27D4EB4F
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return float64(x>>11) / (1 << 53)
}

// recordNumber reads the record's number from a body {"n": 42}.
func recordNumber(body io.Reader) (int, error) {
	var v struct {
		N *int `json:"n"`
	}
	if err := json.NewDecoder(io.LimitReader(body, 1<<10)).Decode(&v); err != nil {
		return 0, err
	}
	if v.N == nil || *v.N < 1 {
		return 0, errors.New("no record number")
	}
	return *v.N, nil
}

// partnerReport is the partner's counts for records 1..records, with the
// down window relative to start (zero if it never began).
type partnerReport struct {
	partnerStats
	accepted   int // distinct records accepted
	lost       int // records never accepted
	duplicates int // records accepted more than once
	unknown    int // accepted record numbers outside 1..records
	downAt     time.Duration
	downFor    time.Duration
	resumedAt  time.Duration // first acceptance after the down window (0: none)
}

func (p *faultyPartner) report(records int, start time.Time) partnerReport {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := partnerReport{partnerStats: p.stats}
	for n, times := range p.accepted {
		if n > records {
			r.unknown++
			continue
		}
		r.accepted++
		if times > 1 {
			r.duplicates++
		}
	}
	r.lost = records - r.accepted
	if !p.downFrom.IsZero() {
		r.downAt, r.downFor = p.downFrom.Sub(start), p.downUntil.Sub(p.downFrom)
	}
	if !p.resumed.IsZero() {
		r.resumedAt = p.resumed.Sub(start)
	}
	return r
}

func (p *faultyPartner) close() { _ = p.srv.Close() }
