package bench

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/internal/testenv"
)

// The scale comparison's plumbing at tiny sizes: every depth of every
// series gets its row, the plans are read, and the dispatcher process
// drains the backlog, every record delivered exactly once (RunScaleDrain
// checks it in the database). It asserts no speed.
func TestRunScaleSmall(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := RunScale(ctx, ScaleConfig{
		PG: url, Records: 5000, Destinations: []int{1, 100}, Claims: 20, FillBatch: 700,
		ChildArgs: []string{"-test.run=^$"},
	})
	require.NoError(t, err)
	assert.Equal(t, []int{1000, 5000}, res.Config.Depths, "1,000 below the records, then the records")
	require.Len(t, res.Claims, 4)
	for i, want := range []struct{ dests, depth int }{{1, 1000}, {1, 5000}, {100, 1000}, {100, 5000}} {
		r := res.Claims[i]
		assert.Equal(t, want.dests, r.Destinations)
		assert.Equal(t, want.depth, r.Depth)
		assert.Equal(t, 20, r.Claims)
		assert.Equal(t, 20*32, r.Claimed, "every claim returned a full batch")
		assert.Positive(t, r.P50)
		assert.LessOrEqual(t, r.P50, r.P99)
		assert.LessOrEqual(t, r.P99, r.Max)
	}
	assert.Equal(t, 12_000, res.Fill.Jobs, "both series filled a schema of 1,000 and one of 5,000")
	require.Len(t, res.Plans, 2)
	for dests, plan := range res.Plans {
		if strings.HasPrefix(plan, "not read: ") {
			t.Logf("%d destinations: plans %s", dests, plan)
			continue
		}
		assert.Contains(t, plan, "outbox_dest_claim_idx", "%d destinations: the claim's plan", dests)
		assert.NotContains(t, plan, "Query Text:")
	}
	d := res.Drain
	assert.Equal(t, 5000, d.Records)
	assert.Equal(t, 100, d.Destinations, "the last series is drained")
	assert.Equal(t, 16, d.Concurrency)
	assert.Positive(t, d.Elapsed)
	assert.Positive(t, d.Samples)
	assert.Positive(t, d.PeakRSS)
	assert.Positive(t, d.HWM)
	assert.GreaterOrEqual(t, d.Peak(), d.PeakRSS)
	assert.Positive(t, d.PerSecond())
	t.Logf("claims %+v; drain %+v", res.Claims, d)
}

// With SkipDrain the claims are timed and the plans read, and nothing is
// drained.
func TestRunScaleSkipDrain(t *testing.T) {
	url := testenv.PostgresURL(t)
	res, err := RunScale(context.Background(), ScaleConfig{PG: url, Records: 500, Destinations: []int{3}, Claims: 5, SkipDrain: true})
	require.NoError(t, err)
	require.Len(t, res.Claims, 1)
	assert.Equal(t, 5, res.Claims[0].Claims)
	assert.Equal(t, 5*32, res.Claims[0].Claimed)
	assert.Len(t, res.Plans, 1)
	assert.Zero(t, res.Drain)
}

// The drain's check fails when a record was attempted twice, or is not
// delivered.
func TestCheckDrainedCountsDeliveriesOnce(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	s, err := openScaleSeries(ctx, url, 1)
	require.NoError(t, err)
	defer func() { require.NoError(t, s.close(ctx)) }()
	require.NoError(t, s.fill(ctx, 3, 2))
	assert.ErrorContains(t, checkDrained(ctx, url, s.schema, 3), "0 of them delivered after one attempt")
	recs, err := s.store.Claim(ctx, 3, time.Minute)
	require.NoError(t, err)
	require.Len(t, recs, 3)
	for _, r := range recs {
		require.NoError(t, s.store.Complete(ctx, r.Lease(), delivery.Attempt{StartedAt: time.Now(), Status: 200}, false))
	}
	require.NoError(t, checkDrained(ctx, url, s.schema, 3))
	assert.ErrorContains(t, checkDrained(ctx, url, s.schema, 4), "holds 3 records")
	_, err = s.pool.Exec(ctx, `UPDATE `+s.store.Name()+` SET attempts = 2 WHERE id = $1`, recs[0].ID)
	require.NoError(t, err)
	assert.ErrorContains(t, checkDrained(ctx, url, s.schema, 3), "2 of them delivered after one attempt")
}

func TestScaleConfigDefaults(t *testing.T) {
	c, err := ScaleConfig{PG: "postgres://x"}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, []int{1000, 100_000, 1_000_000}, c.Depths)
	assert.Equal(t, []int{1, 1000}, c.Destinations)
	assert.Equal(t, 1000, c.DrainDestinations)
	assert.Equal(t, 32, c.ClaimBatch)
	c, err = ScaleConfig{PG: "postgres://x", Records: 150_000}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, []int{1000, 100_000, 150_000}, c.Depths)
	c, err = ScaleConfig{PG: "postgres://x", Records: 1000}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, []int{1000}, c.Depths)

	for _, bad := range []ScaleConfig{
		{},
		{PG: "postgres://x", Records: -1},
		{PG: "postgres://x", Records: 10, Depths: []int{20, 10}},
		{PG: "postgres://x", Records: 10, Depths: []int{5}},
		{PG: "postgres://x", Destinations: []int{0}},
		{PG: "postgres://x", Destinations: []int{1}, DrainDestinations: 2},
	} {
		_, err := bad.withDefaults()
		assert.Error(t, err, "%+v", bad)
	}
	_, err = RunScaleDrain(context.Background(), DrainConfig{PG: "postgres://x", Records: 1})
	assert.ErrorContains(t, err, "Schema are required")
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 200; i++ {
		ds = append(ds, time.Duration(i))
	}
	assert.Equal(t, time.Duration(100), percentile(ds, 0.5))
	assert.Equal(t, time.Duration(198), percentile(ds, 0.99))
	assert.Equal(t, time.Duration(200), percentile(ds, 1))
	assert.Equal(t, time.Duration(7), percentile([]time.Duration{7}, 0.99))
	assert.Zero(t, percentile(nil, 0.5))
}

func TestParseProcStatus(t *testing.T) {
	rss, hwm, ok := parseProcStatus(strings.NewReader("Name:\tcompare\nVmPeak:\t  900 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\nThreads:\t7\n"))
	assert.True(t, ok)
	assert.EqualValues(t, 20<<20, rss)
	assert.EqualValues(t, 40<<20, hwm)
	_, _, ok = parseProcStatus(strings.NewReader("Name:\tzombie\nState:\tZ (zombie)\n"))
	assert.False(t, ok, "an exited process has no VmRSS")
}

func TestWithoutQueryText(t *testing.T) {
	msg := "duration: 1.2 ms  plan:\nQuery Text: UPDATE x\n\tSET y = (SELECT 1 (actual time=0))\nUpdate on x  (cost=1..2 rows=0 width=0) (actual time=0.1..0.2 rows=0 loops=1)\n  ->  Seq Scan on x  (actual time=0.1..0.1 rows=1 loops=1)"
	assert.Equal(t, "duration: 1.2 ms  plan:\nUpdate on x  (cost=1..2 rows=0 width=0) (actual time=0.1..0.2 rows=0 loops=1)\n  ->  Seq Scan on x  (actual time=0.1..0.1 rows=1 loops=1)", withoutQueryText(msg))
	assert.Equal(t, "no query text", withoutQueryText("no query text"))
}

// scaleDatabase leaves the URL alone without a database name, and points
// it at the named database, which exists afterwards, with one.
func TestScaleDatabase(t *testing.T) {
	url := testenv.PostgresURL(t)
	ctx := context.Background()
	got, err := scaleDatabase(ctx, url, "")
	require.NoError(t, err)
	assert.Equal(t, url, got)
	db := testenv.UniqueName(t, "obscale")
	t.Cleanup(func() {
		pool, err := pgxpool.New(ctx, url)
		require.NoError(t, err)
		defer pool.Close()
		_, err = pool.Exec(ctx, `DROP DATABASE IF EXISTS `+db+` WITH (FORCE)`)
		assert.NoError(t, err)
	})
	for range 2 { // created, then found
		got, err = scaleDatabase(ctx, url, db)
		require.NoError(t, err)
		assert.Contains(t, got, "/"+db+"?")
		pool, err := pgxpool.New(ctx, got)
		require.NoError(t, err)
		var name string
		require.NoError(t, pool.QueryRow(ctx, `SELECT current_database()`).Scan(&name))
		pool.Close()
		assert.Equal(t, db, name)
	}
	_, err = scaleDatabase(ctx, "host=x", db)
	assert.Error(t, err, "not a URL")
}
