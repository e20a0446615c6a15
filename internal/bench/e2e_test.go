package bench

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/internal/testenv"
)

// Both stacks deliver every record through the partner's faults and
// outage, and the partner's counts agree with each other. It asserts no
// speed.
func TestRunE2EDeliversEveryRecord(t *testing.T) {
	url := testenv.PostgresURL(t)
	cfg := E2EConfig{PG: url, Records: 200, Concurrency: 8, DownFor: time.Second, Seed: 7}
	for _, c := range E2EContenders() {
		t.Run(c.Name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			res, err := RunE2E(ctx, cfg, c)
			require.NoError(t, err)
			assert.Zero(t, res.Lost, "records lost")
			assert.Zero(t, res.GaveUp, "records given up")
			assert.Equal(t, 200, res.Records)
			assert.Positive(t, res.PerSecond())
			assert.GreaterOrEqual(t, res.Requests, res.Records+res.Served503, "a record is accepted once at least, plus the 503s")
			assert.Positive(t, res.DownAt, "the partner went down")
			assert.Equal(t, time.Second, res.DownFor)
			assert.Less(t, res.DownAt, res.Elapsed)
			assert.Positive(t, res.Recovery, "a record was accepted after the down window")
			assert.Less(t, res.DownAt+res.DownFor+res.Recovery, res.Elapsed)
			assert.Positive(t, res.WhileDown, "requests reached the partner while down")
			assert.LessOrEqual(t, res.WhileDown, res.Served503, "every request while down was answered 503")
			assert.LessOrEqual(t, res.Duplicates, res.Timeouts, "only a processed, held request makes a duplicate")
			t.Logf("%s: %v, %.0f records/s, %d requests, %d while down, %d 503s, %d timeouts, %d duplicates",
				c.Name, res.Elapsed.Round(time.Millisecond), res.PerSecond(), res.Requests, res.WhileDown, res.Served503, res.Timeouts, res.Duplicates)
		})
	}
}

// The partner's faults depend on the record and its request count only,
// it goes down once half the records were accepted, answers every request
// 503 while down and counts them, and reports lost and duplicated records.
func TestFaultyPartner(t *testing.T) {
	cfg := E2EConfig{Records: 40, Latency: time.Millisecond, FailShare: 0.3, HoldShare: 0.1, Hold: 5 * time.Second, DownFor: 300 * time.Millisecond, Seed: 3}.WithDefaults()
	p, err := startFaultyPartner(cfg)
	require.NoError(t, err)
	defer p.close()
	client := &http.Client{Timeout: 300 * time.Millisecond} // the partner holds for 5s
	defer client.CloseIdleConnections()
	post := func(n int) int {
		resp, err := client.Post(p.url, "application/json", bytes.NewReader(jobPayload(n)))
		if err != nil {
			return 0 // held past the timeout
		}
		require.NoError(t, resp.Body.Close())
		return resp.StatusCode
	}
	start := time.Now()
	want := map[int]int{} // the status expected for record n's first request
	for n := 1; n <= 20; n++ {
		switch u := fateDraw(cfg.Seed, n, 0); {
		case u < cfg.HoldShare:
			want[n] = 0
		case u < cfg.HoldShare+cfg.FailShare:
			want[n] = http.StatusServiceUnavailable
		default:
			want[n] = http.StatusOK
		}
	}
	for n := 1; n <= 20; n++ {
		got := post(n)
		r := p.report(cfg.Records, start)
		if r.downAt > 0 {
			assert.Equal(t, http.StatusServiceUnavailable, got, "record %d while down", n)
			continue
		}
		assert.Equal(t, want[n], got, "record %d", n)
	}
	// Send records 21..40 until each is accepted: the 20th record
	// accepted starts the down window, which answers 503 for DownFor.
	for n := 21; n <= 40; n++ {
		for range 200 {
			if post(n) == http.StatusOK {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	r := p.report(cfg.Records, start)
	require.Positive(t, r.downAt, "down window began")
	assert.Equal(t, cfg.DownFor, r.downFor)
	assert.Positive(t, r.whileDown)
	assert.LessOrEqual(t, r.whileDown, r.served503)
	assert.Zero(t, r.malformed)
	assert.Zero(t, r.unknown)
	assert.Equal(t, 40, r.accepted+r.lost)
	refused := 0 // records 1..20 answered 503, never sent again (a held one was processed)
	for _, status := range want {
		if status == http.StatusServiceUnavailable {
			refused++
		}
	}
	assert.Equal(t, refused, r.lost, "lost: the records never accepted")
	assert.LessOrEqual(t, r.duplicates, r.held)
	assert.Greater(t, r.resumedAt, r.downAt+r.downFor, "records 21..40 were accepted after the window")

	resp, err := client.Post(p.url, "application/json", bytes.NewReader([]byte(`{}`)))
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, 1, p.report(cfg.Records, start).malformed)
}

func TestFateDrawIsStableAndSpread(t *testing.T) {
	assert.Equal(t, fateDraw(1, 17, 2), fateDraw(1, 17, 2))
	assert.NotEqual(t, fateDraw(1, 17, 2), fateDraw(2, 17, 2), "seed matters")
	assert.NotEqual(t, fateDraw(1, 17, 2), fateDraw(1, 17, 3), "request index matters")
	under := 0
	const n = 100_000
	for i := 1; i <= n; i++ {
		u := fateDraw(9, i, 0)
		require.GreaterOrEqual(t, u, 0.0)
		require.Less(t, u, 1.0)
		if u < 0.1 {
			under++
		}
	}
	assert.InDelta(t, 0.1, float64(under)/n, 0.005, "10%% of draws under 0.1")
}

func TestRunE2EBadConfig(t *testing.T) {
	for _, cfg := range []E2EConfig{
		{},
		{PG: "postgres://x", Records: 1},
		{PG: "postgres://x", FailShare: 0.6, HoldShare: 0.5},
		{PG: "postgres://x", DownFor: -time.Second},
	} {
		_, err := RunE2E(context.Background(), cfg, E2EContenders()[0])
		assert.Error(t, err, "%+v", cfg)
	}
}

func TestRecordNumber(t *testing.T) {
	for body, want := range map[string]int{`{"n":42}`: 42, `{"n": 1}`: 1} {
		n, err := recordNumber(bytes.NewReader([]byte(body)))
		require.NoError(t, err)
		assert.Equal(t, want, n, body)
	}
	for _, body := range []string{`{}`, `{"n":0}`, `x`, `{"n":"` + strconv.Itoa(3) + `"}`} {
		_, err := recordNumber(bytes.NewReader([]byte(body)))
		assert.Error(t, err, body)
	}
}

// nothingSent is a stack that settles nothing: every record is lost.
type nothingSent struct{}

func (nothingSent) run(context.Context) (int, error) { return 3, nil }
func (nothingSent) close(context.Context) error      { return nil }

// A stack that never reaches the partner loses every record, and RunE2E
// says so with ErrRecordsLost and the counts.
func TestRunE2EReportsLostRecords(t *testing.T) {
	c := E2EContender{Name: "nothing", open: func(context.Context, E2EConfig, string) (e2eStack, error) { return nothingSent{}, nil }}
	res, err := RunE2E(context.Background(), E2EConfig{PG: "postgres://unused", Records: 10}, c)
	require.ErrorIs(t, err, ErrRecordsLost)
	assert.ErrorContains(t, err, "10 of 10 never accepted")
	assert.Equal(t, 10, res.Lost)
	assert.Equal(t, 3, res.GaveUp)
	assert.Zero(t, res.Requests)
	assert.Zero(t, res.DownAt, "the partner never went down")
}
