package bench

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func BenchmarkPipeline(b *testing.B) {
	for _, c := range PipelineContenders() {
		b.Run(c.Name, Serial(c))
	}
}

// The comparison is fair only if every chain does the same thing with an
// outcome: one attempt for a 200, three for a retryable 503, one for a
// 400. The go-retryablehttp row is only a policy check: it never calls
// the attempt more than once and only says whether to retry.
func TestPipelineChainsTreatOutcomesAlike(t *testing.T) {
	for _, tc := range []struct {
		status   int
		attempts int
		ok       bool
	}{
		{http.StatusOK, 1, true},
		{http.StatusServiceUnavailable, pipelineTries, false},
		{http.StatusBadRequest, 1, false},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			for _, c := range pipelineNames() {
				t.Run(c, func(t *testing.T) {
					synctest.Test(t, func(t *testing.T) {
						var calls atomic.Int64
						attempt := func() *http.Response {
							calls.Add(1)
							return &http.Response{StatusCode: tc.status, Header: http.Header{}, Body: http.NoBody}
						}
						con := pipelineContender(t, attempt, c)
						op, done, err := con.Setup()
						require.NoError(t, err)
						if done != nil {
							defer done()
						}
						err = op(context.Background())
						if tc.ok {
							assert.NoError(t, err)
						} else {
							assert.Error(t, err)
						}
						want := int64(tc.attempts)
						if con.Partial {
							want = 1
						}
						assert.Equal(t, want, calls.Load(), "attempts")
					})
				})
			}
		})
	}
}

func pipelineNames() []string {
	var names []string
	for _, c := range PipelineContenders() {
		names = append(names, c.Name)
	}
	return names
}

func pipelineContender(t *testing.T, attempt func() *http.Response, name string) Contender {
	t.Helper()
	for _, c := range pipelineContenders(attempt) {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no contender %q", name)
	return Contender{}
}

// A chain's breaker must really be in the path: after enough retryable
// failures, each chain refuses further attempts without calling them.
func TestPipelineChainsHaveABreaker(t *testing.T) {
	for _, c := range PipelineContenders() {
		if c.Partial {
			continue // a policy check has no breaker; the table says so
		}
		t.Run(c.Name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var calls atomic.Int64
				attempt := func() *http.Response {
					calls.Add(1)
					return &http.Response{StatusCode: http.StatusServiceUnavailable, Header: http.Header{}, Body: http.NoBody}
				}
				con := pipelineContender(t, attempt, c.Name)
				op, done, err := con.Setup()
				require.NoError(t, err)
				if done != nil {
					defer done()
				}
				for range 10 {
					_ = op(context.Background())
				}
				// Every breaker here opens after 5 consecutive failures; 10
				// ops of up to 3 attempts would make 30 calls without one.
				assert.Less(t, calls.Load(), int64(10*pipelineTries), "attempts made through an open breaker")
				assert.GreaterOrEqual(t, calls.Load(), int64(5))
			})
		})
	}
}

// The outbound chain's success path (classification, retry, gate,
// breaker) allocates once: gobreaker's two-step Allow makes its done func
// (issue 24 asks for none; see the README). Allocation counts do not
// depend on the machine's load, so this holds where timings cannot be
// asserted.
func TestOutboundPipelineAllocatesOnce(t *testing.T) {
	op, done, err := pipelineContender(t, okAttempt(), "outbound").Setup()
	require.NoError(t, err)
	defer done()
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if err := op(ctx); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0)
}
