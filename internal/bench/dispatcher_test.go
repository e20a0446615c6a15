package bench

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// BenchmarkDispatcher drains a backlog of b.N records from the in-memory
// store with 1 and 16 workers, unkeyed and over 100 keys, and reports
// records/s and allocations per record.
func BenchmarkDispatcher(b *testing.B) {
	for _, keys := range []int{0, 100} {
		for _, workers := range []int{1, 16} {
			b.Run(fmt.Sprintf("keys=%d/c=%d", keys, workers), func(b *testing.B) {
				res, err := RunDispatcher(context.Background(), DispatcherConfig{Records: max(b.N, 2*workers), Keys: keys, Concurrency: []int{workers}})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res[0].Drain.PerSecond(), "records/s")
				b.ReportMetric(res[0].AllocsPerRecord, "allocs/record")
				b.ReportMetric(res[0].BytesPerRecord, "B/record")
			})
		}
	}
}

// RunDispatcher delivers the whole backlog at every concurrency asked
// for, keyed or not, and reports what it measured.
func TestRunDispatcherDeliversTheBacklog(t *testing.T) {
	for _, keys := range []int{0, 7} {
		res, err := RunDispatcher(t.Context(), DispatcherConfig{Records: 300, Keys: keys, Concurrency: []int{1, 4}})
		require.NoError(t, err)
		require.Len(t, res, 2)
		for i, w := range []int{1, 4} {
			assert.Equal(t, w, res[i].Concurrency)
			assert.Equal(t, 300, res[i].Drain.Jobs)
			assert.Positive(t, res[i].Drain.PerSecond())
			assert.Positive(t, res[i].AllocsPerRecord)
			assert.Positive(t, res[i].BytesPerRecord)
		}
	}
}

// A config without records, or with a negative key count, is refused.
func TestRunDispatcherRefusesBadConfig(t *testing.T) {
	for _, cfg := range []DispatcherConfig{{}, {Records: -1}, {Records: 10, Keys: -1}} {
		_, err := RunDispatcher(t.Context(), cfg)
		assert.ErrorContains(t, err, "bench: DispatcherConfig", "%+v", cfg)
	}
}
