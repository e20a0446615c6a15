package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/internal/testenv"
)

// BenchmarkDurable inserts b.N jobs in batches of 1,000 (insert) and works
// b.N jobs already inserted, untimed, with 1 and 16 workers (work), on a
// fresh schema per sub-benchmark.
func BenchmarkDurable(b *testing.B) {
	url := testenv.PostgresURL(b)
	for _, c := range DurableContenders() {
		b.Run(c.Name+"/insert", func(b *testing.B) {
			q := openQueue(b, c, url)
			b.ResetTimer()
			if err := q.Insert(context.Background(), b.N, 1000); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
		})
		for _, workers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/work-c=%d", c.Name, workers), func(b *testing.B) {
				q := openQueue(b, c, url)
				if err := q.Insert(context.Background(), b.N, 1000); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				if err := q.Work(context.Background(), b.N, workers); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
			})
		}
	}
}

func openQueue(tb testing.TB, c DurableContender, url string) Queue {
	tb.Helper()
	ctx := context.Background()
	q, err := c.Open(ctx, url)
	require.NoError(tb, err)
	tb.Cleanup(func() { require.NoError(tb, q.Close(ctx)) })
	return q
}

// Every queue inserts and completes every job, with one worker and with
// several, and RunDurable's own check agrees with the database.
func TestDurableQueuesCompleteEveryJob(t *testing.T) {
	url := testenv.PostgresURL(t)
	for _, c := range DurableContenders() {
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := RunDurable(ctx, c, DurableConfig{URL: url, Jobs: 250, Batch: 100, Concurrency: []int{1, 4}})
			require.NoError(t, err)
			assert.Equal(t, 500, res.Insert.Jobs)
			assert.Positive(t, res.Insert.PerSecond())
			for _, w := range []int{1, 4} {
				assert.Equal(t, 250, res.Work[w].Jobs)
				assert.Positive(t, res.Work[w].PerSecond())
			}
		})
	}
}

// Work returns only once n completions are committed: nothing is left
// pending or running, and Close drops the schema (removes the SQLite
// file's directory).
func TestDurableWorkWaitsForCommittedCompletions(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	for _, c := range DurableContenders() {
		t.Run(c.Name, func(t *testing.T) {
			q, err := c.Open(ctx, url)
			require.NoError(t, err)
			require.NoError(t, q.Insert(ctx, 120, 50))
			done, err := q.Completed(ctx)
			require.NoError(t, err)
			assert.Zero(t, done)
			require.NoError(t, q.Work(ctx, 120, 8))
			done, err = q.Completed(ctx)
			require.NoError(t, err)
			assert.Equal(t, 120, done)

			if sq, ok := q.(*sqliteQueue); ok {
				require.NoError(t, q.Close(ctx))
				_, err := os.Stat(sq.dir)
				assert.True(t, os.IsNotExist(err), "directory %s removed", sq.dir)
				return
			}
			schema := queueSchema(t, q)
			require.NoError(t, q.Close(ctx))
			conn, err := pgx.Connect(ctx, url)
			require.NoError(t, err)
			defer conn.Close(ctx)
			var exists bool
			require.NoError(t, conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", schema).Scan(&exists))
			assert.False(t, exists, "schema %s dropped", schema)
		})
	}
}

// Work gives up with an error when ctx ends before n jobs are done.
func TestDurableWorkStopsAtContextEnd(t *testing.T) {
	url := testenv.PostgresURL(t)
	for _, c := range DurableContenders()[:4] { // outbound's stores and River; COPY works as InsertMany does
		t.Run(c.Name, func(t *testing.T) {
			q := openQueue(t, c, url)
			require.NoError(t, q.Insert(context.Background(), 10, 10))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			err := q.Work(ctx, 11, 2) // one more than there is
			require.Error(t, err)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
		})
	}
}

func TestRunDurableRejectsBadConfig(t *testing.T) {
	_, err := RunDurable(context.Background(), DurableContenders()[0], DurableConfig{URL: "postgres://x", Jobs: 0})
	assert.ErrorContains(t, err, "positive Jobs")
}

func queueSchema(t *testing.T, q Queue) string {
	t.Helper()
	switch q := q.(type) {
	case *outboundQueue:
		return q.schema
	case *riverQueue:
		return q.schema
	}
	t.Fatalf("unknown queue %T", q)
	return ""
}

func TestJobPayload(t *testing.T) {
	assert.Equal(t, `{"n":42}`, string(jobPayload(42)))
}
