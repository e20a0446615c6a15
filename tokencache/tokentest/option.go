package tokentest

import (
	"testing"
	"testing/synctest"
)

// Option adjusts how a conformance suite runs.
type Option func(*suite)

type suite struct {
	synctest bool
}

// InSynctest runs each subtest of a suite inside a testing/synctest bubble,
// with newStore (or newStores) called inside it, so waiting for a lock or a
// token to expire takes no real time. Use it only for stores that expire
// locks by this process's clock (time.Now) and do no network I/O, such as
// tokencache.MemoryStore or a wrapper around it.
func InSynctest() Option { return func(s *suite) { s.synctest = true } }

func newSuite(opts []Option) suite {
	var s suite
	for _, o := range opts {
		o(&s)
	}
	return s
}

// run runs f as subtest name, in a bubble if the suite asks for one.
func (s suite) run(t *testing.T, name string, f func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		if s.synctest {
			synctest.Test(t, f)
			return
		}
		f(t)
	})
}
