package metrics_test

import (
	"context"
	"sync"

	"github.com/outbound-go/outbound/delivery"
)

// script is a Deliverer that answers each message id with a scripted
// sequence of errors; the last one repeats, and ids without a script
// succeed.
type script struct {
	mu      sync.Mutex
	answers map[string][]error
	calls   map[string]int
}

func newScript() *script { return &script{answers: map[string][]error{}, calls: map[string]int{}} }

func (s *script) on(id string, errs ...error) *script {
	s.answers[id] = errs
	return s
}

func (s *script) Deliver(_ context.Context, m *delivery.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.calls[m.ID]
	s.calls[m.ID]++
	errs := s.answers[m.ID]
	if len(errs) == 0 {
		return nil
	}
	return errs[min(n, len(errs)-1)]
}
