package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/failures"
	"github.com/outbound-go/outbound/delivery/logging"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/delivery/metrics"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/tokencache"
)

// TestReadmeWiring runs the wiring shown in the README's Monitoring section
// (with a private registry and an in-memory partner) and checks that both
// adapters and every hook report.
func TestReadmeWiring(t *testing.T) {
	var logOut bytes.Buffer
	store := memstore.New(memstore.Config{})
	source := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
		return tokencache.Token{Value: "t0k3n-value", Expiry: time.Now().Add(time.Hour)}, nil
	})
	checker := health.CheckerFunc(func(context.Context) error { return nil })
	reg := prometheus.NewRegistry()

	// --- README snippet, from here ---
	logger := slog.New(logging.Handler(slog.NewJSONHandler(&logOut, &slog.HandlerOptions{Level: slog.LevelInfo})))
	logs, err := logging.NewObserver(logging.Config{Logger: logger})
	require.NoError(t, err)
	prom, err := metrics.New(metrics.Config{Store: store})
	require.NoError(t, err)
	reg.MustRegister(prom)
	failures, err := failures.New(failures.Config{})
	require.NoError(t, err)

	breaker, err := health.NewCircuitBreaker(health.BreakerConfig{
		Name: "ats",
		OnStateChange: func(name string, from, to health.BreakerState) {
			logs.BreakerChanged(name, from, to)
			prom.BreakerChanged(name, from, to)
		},
	})
	require.NoError(t, err)
	monitor, err := health.NewMonitor(health.MonitorConfig{
		Name: "ats", Checker: checker,
		OnChange: func(c health.Change) { logs.HealthChanged(c); prom.HealthChanged(c) },
	})
	require.NoError(t, err)
	tokens, err := tokencache.New(source, tokencache.Config{
		OnEvent: func(e tokencache.Event) { logs.TokenEvent(e); prom.TokenEvent(e) },
	})
	require.NoError(t, err)
	defer tokens.Close()
	// --- to here ---

	send := delivery.DelivererFunc(func(ctx context.Context, m *delivery.Message) error {
		if _, err := tokens.Token(ctx); err != nil {
			return err
		}
		if m.ID == "bad" {
			return &classify.Error{Class: classify.ClassPermanent, Status: 400}
		}
		return nil
	})
	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{
		Store: store, Deliverer: delivery.Chain(send, delivery.WithBreaker(breaker)),
		Gate:     monitor,
		Observer: delivery.Observers(logs, prom, failures),
	})
	require.NoError(t, err)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	defer srv.Close()

	_, err = store.Enqueue(context.Background(),
		delivery.Message{ID: "good", Destination: "ats", Payload: []byte("{}")},
		delivery.Message{ID: "bad", Destination: "ats", Payload: []byte("{}")})
	require.NoError(t, err)
	_, err = d.RunOnce(context.Background())
	require.NoError(t, err)

	resp, err := srv.Client().Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, want := range []string{
		`outbound_actions_total{action="dead_letter",destination="ats"} 1`,
		`outbound_actions_total{action="delivered",destination="ats"} 1`,
		`outbound_queue_records{state="dead"} 1`,
		`outbound_health_state{monitor="ats"} 1`,
		`outbound_token_events_total{cache="default",event="minted"} 1`,
		`outbound_runs_total{result="work"} 1`,
	} {
		assert.Contains(t, string(body), want)
	}
	lines := parseLogLines(t, logOut.Bytes())
	require.Len(t, lines, 3, "health up, the dead letter, the run summary:\n%s", logOut.String())
	assert.Equal(t, "destination up", lines[0]["msg"])
	assert.Equal(t, "dead-lettered", lines[1]["msg"])
	assert.Equal(t, "run finished", lines[2]["msg"])
	assert.NotContains(t, logOut.String(), "t0k3n-value")
	assert.NotContains(t, string(body), "t0k3n-value")
	assert.Equal(t, int64(1), failures.Totals().Cause("http_400"))
}

func parseLogLines(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, raw := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if len(raw) == 0 {
			continue
		}
		var l map[string]any
		require.NoError(t, json.Unmarshal(raw, &l), "%s", raw)
		lines = append(lines, l)
	}
	return lines
}
