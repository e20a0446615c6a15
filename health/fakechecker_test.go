package health_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/outbound-go/outbound/classify"
)

// errPartnerDown is what fake partners answer when they are down.
var errPartnerDown = classify.Ephemeral(errors.New("partner answered 503"))

// fakeChecker is a Checker whose answers a test controls: by default it
// follows healthy; a test may install a function of the call number
// instead. It counts its calls.
type fakeChecker struct {
	healthy atomic.Bool
	calls   atomic.Int64

	mu     sync.Mutex
	answer func(call int64) error // nil: follow healthy
}

func newFakeChecker(healthy bool) *fakeChecker {
	f := &fakeChecker{}
	f.healthy.Store(healthy)
	return f
}

// alternating returns a checker that answers first, then the opposite,
// then first again, and so on.
func alternating(firstHealthy bool) *fakeChecker {
	f := &fakeChecker{}
	f.answer = func(call int64) error {
		if (call%2 == 1) == firstHealthy {
			return nil
		}
		return errPartnerDown
	}
	return f
}

func (f *fakeChecker) Check(ctx context.Context) error {
	n := f.calls.Add(1)
	f.mu.Lock()
	answer := f.answer
	f.mu.Unlock()
	if answer != nil {
		return answer(n)
	}
	if f.healthy.Load() {
		return nil
	}
	return errPartnerDown
}

// blockingChecker answers only when released or when its context ends,
// whichever comes first, and counts its calls.
type blockingChecker struct {
	release chan struct{}
	calls   atomic.Int64
}

func newBlockingChecker() *blockingChecker {
	return &blockingChecker{release: make(chan struct{})}
}

func (b *blockingChecker) Check(ctx context.Context) error {
	b.calls.Add(1)
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
