package resilient_test

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// step is one scripted answer of a fakeBase: a status (with an optional
// Retry-After and body) or a transport error.
type step struct {
	status     int
	retryAfter string
	body       string
	err        error
}

// reset is a scripted connection reset.
var reset = step{err: &netErr{syscall.ECONNRESET}}

// netErr is a transport error that unwraps to a syscall error, as the
// net package's errors do.
type netErr struct{ errno syscall.Errno }

func (e *netErr) Error() string { return "read tcp: " + e.errno.Error() }
func (e *netErr) Unwrap() error { return e.errno }

// fakeBase is a base RoundTripper that answers from a script (repeating
// the last step) and records what it saw, for schedule tests inside a
// synctest bubble, where a real network would not be durably blocking.
type fakeBase struct {
	mu     sync.Mutex
	script []step
	start  time.Time
	at     []time.Duration // when each request arrived, since start
	bodies []string        // what each request's body held
	auths  []string        // each request's Authorization header
	resps  []*trackedBody  // the body of each response handed out
}

func newFakeBase(script ...step) *fakeBase {
	return &fakeBase{script: script, start: time.Now()}
}

func (f *fakeBase) RoundTrip(req *http.Request) (*http.Response, error) {
	var body string
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		_ = req.Body.Close()
		body = string(b)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.at)
	f.at = append(f.at, time.Since(f.start))
	f.bodies = append(f.bodies, body)
	f.auths = append(f.auths, req.Header.Get("Authorization"))
	s := f.script[min(n, len(f.script)-1)]
	if s.err != nil {
		return nil, s.err
	}
	tb := &trackedBody{Reader: strings.NewReader(s.body)}
	f.resps = append(f.resps, tb)
	h := make(http.Header)
	if s.retryAfter != "" {
		h.Set("Retry-After", s.retryAfter)
	}
	return &http.Response{StatusCode: s.status, Status: strconv.Itoa(s.status), Header: h, Body: tb, Request: req}, nil
}

func (f *fakeBase) response(i int) *trackedBody {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.resps[i]
}

func (f *fakeBase) responses() []*trackedBody {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*trackedBody(nil), f.resps...)
}

func (f *fakeBase) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.at)
}

func (f *fakeBase) arrivals() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Duration(nil), f.at...)
}

// trackedBody records whether it was read to the end and closed.
type trackedBody struct {
	io.Reader
	drained atomic.Bool
	closed  atomic.Bool
}

func (b *trackedBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if errors.Is(err, io.EOF) {
		b.drained.Store(true)
	}
	return n, err
}

func (b *trackedBody) Close() error {
	b.closed.Store(true)
	return nil
}

// closeTracker is a request body that records being closed.
type closeTracker struct {
	io.Reader
	closed atomic.Bool
}

func (c *closeTracker) Close() error {
	c.closed.Store(true)
	return nil
}
