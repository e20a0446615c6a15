package deliverytest

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// Script is a delivery.Deliverer that answers from a script, without a
// network: the n-th call for a message ID gets the n-th answer listed for
// that ID, and the last answer repeats. IDs not listed get the Otherwise
// answers, counted per ID the same way, or nil (accepted). It honours the
// context: a call whose context has ended returns its error. It is safe
// for concurrent use; configure it before the first call.
//
//	s := deliverytest.NewScript().
//		On("cand-2", deliverytest.StatusError(503), deliverytest.StatusError(503), nil). // fails twice
//		On("cand-3", deliverytest.StatusError(400))                                      // always rejected
type Script struct {
	mu        sync.Mutex
	answers   map[string][]error
	otherwise []error
	delay     time.Duration
	calls     map[string]int
}

// NewScript returns a Script that accepts everything until told otherwise.
func NewScript() *Script {
	return &Script{answers: make(map[string][]error), calls: make(map[string]int)}
}

// On scripts the answers for the message with this ID and returns s. With
// no answers the message is accepted.
func (s *Script) On(id string, answers ...error) *Script {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.answers[id] = append([]error(nil), answers...)
	return s
}

// Otherwise scripts the answers for every message not scripted with On,
// counted per message ID, and returns s.
func (s *Script) Otherwise(answers ...error) *Script {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.otherwise = append([]error(nil), answers...)
	return s
}

// Taking makes every call take d (on the context's clock, so a
// testing/synctest bubble's), returning the context's error if it ends
// first, and returns s.
func (s *Script) Taking(d time.Duration) *Script {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
	return s
}

// Deliver returns the scripted answer for m's next call.
func (s *Script) Deliver(ctx context.Context, m *delivery.Message) error {
	s.mu.Lock()
	n := s.calls[m.ID]
	s.calls[m.ID] = n + 1
	answers, ok := s.answers[m.ID]
	if !ok {
		answers = s.otherwise
	}
	delay := s.delay
	s.mu.Unlock()
	if err := sleep(ctx, delay); err != nil {
		return err
	}
	if len(answers) == 0 {
		return nil
	}
	return answers[min(n, len(answers)-1)]
}

// Calls returns how many calls were made for the message with this ID.
func (s *Script) Calls(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

// Accept returns a Deliverer that accepts every message: it returns nil,
// or the context's error if the context has ended.
func Accept() delivery.Deliverer {
	return delivery.DelivererFunc(func(ctx context.Context, _ *delivery.Message) error { return ctx.Err() })
}

// Fail returns a Deliverer that answers every message with err.
func Fail(err error) delivery.Deliverer {
	return delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return err })
}

// StatusError returns the error an HTTP deliverer with the default rules
// returns for a response with this status: nil for 2xx, otherwise a
// *classify.Error with the status and classify.DefaultStatusClass's class.
func StatusError(status int) error {
	c := classify.DefaultStatusClass(status)
	if c == classify.ClassOK {
		return nil
	}
	return &classify.Error{Class: c, Status: status, Body: http.StatusText(status)}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
