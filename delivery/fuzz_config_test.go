package delivery_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/failures"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/logging"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/retry"
)

// extremes are the durations and sizes every config fuzz target is seeded
// with: the values that wrapped or panicked before.
var extremes = []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt64 / 2, math.MaxInt64/2 + 1, int64(time.Hour), int64(delivery.MaxAttemptTimeout) + 1}

// FuzzDispatcherConfig builds a DispatcherConfig from fuzzed numbers:
// NewDispatcher must return an error or a dispatcher that delivers a
// record, never panic, and never wrap the lease arithmetic.
func FuzzDispatcherConfig(f *testing.F) {
	for i, v := range extremes {
		w := extremes[(i+3)%len(extremes)]
		f.Add(int(v%100), int(w%1000), v, w, v, w, v, int(v%20))
		f.Add(1, 100, v, int64(0), int64(0), int64(0), w, 0)
		f.Add(4, 10, int64(0), v, w, int64(0), int64(0), 3)
	}
	f.Fuzz(func(t *testing.T, concurrency, maxPerRun int, attemptTimeout, lease, poll, grace, storeTimeout int64, maxAttempts int) {
		cfg := delivery.DispatcherConfig{
			Store: memstore.New(memstore.Config{}), Deliverer: delivery.DelivererFunc(func(context.Context, *delivery.Message) error { return nil }),
			Concurrency: concurrency, MaxPerRun: maxPerRun, AttemptTimeout: time.Duration(attemptTimeout), Lease: time.Duration(lease),
			PollInterval: time.Duration(poll), ShutdownGrace: time.Duration(grace), StoreTimeout: time.Duration(storeTimeout),
			Policy: retry.Policy{MaxAttempts: maxAttempts},
		}
		d, err := delivery.NewDispatcher(cfg)
		if err != nil {
			assert.Contains(t, err.Error(), "delivery: ")
			return
		}
		if concurrency > 64 {
			return // valid, but too many workers to start for every input
		}
		synctest.Test(t, func(t *testing.T) {
			var claimedLease time.Duration
			cfg.Deliverer = delivery.DelivererFunc(func(_ context.Context, m *delivery.Message) error {
				r, err := cfg.Store.Get(context.Background(), m.ID)
				require.NoError(t, err)
				claimedLease = time.Until(r.LeaseExpiresAt)
				return nil
			})
			d, err = delivery.NewDispatcher(cfg)
			require.NoError(t, err)
			_, err = cfg.Store.Enqueue(context.Background(), delivery.Message{ID: "a", Payload: []byte(`{}`)})
			require.NoError(t, err)
			rep, err := d.RunOnce(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 1, rep.Delivered, "%+v", rep)
			if attemptTimeout > 0 {
				assert.Greater(t, claimedLease, 2*time.Duration(attemptTimeout), "the lease covers the gate check and the attempt")
			}
		})
	})
}

// FuzzFailuresConfig: NewFailures returns an error or a Failures whose
// counting, windows and surges never panic.
func FuzzFailuresConfig(f *testing.F) {
	for _, v := range extremes {
		f.Add(v, v, int(v), v, v, 2.0, int64(5))
		f.Add(int64(time.Minute), v, 10, int64(time.Hour), v, 0.0, int64(0))
		f.Add(v, int64(time.Hour), 0, v, int64(time.Minute), math.Inf(1), v)
	}
	f.Fuzz(func(t *testing.T, resolution, history int64, maxKeys int, window, baseline int64, factor float64, minCount int64) {
		// In a bubble the clock stands still, so a count made now is in
		// every window however narrow.
		synctest.Test(t, func(t *testing.T) {
			fs, err := failures.New(failures.Config{Resolution: time.Duration(resolution), History: time.Duration(history), MaxKeys: maxKeys})
			if err != nil {
				assert.Contains(t, err.Error(), "failures: Config.")
				return
			}
			key := failures.Key{Destination: "crm", Class: classify.ClassEphemeral, Cause: "http_503"}
			fs.Add(key, 1)
			assert.EqualValues(t, 1, fs.Last(time.Duration(window)).Total())
			assert.EqualValues(t, 1, fs.Totals().Total())
			_, err = fs.Surges(failures.SurgeRule{Recent: time.Duration(window), Baseline: time.Duration(baseline), Factor: factor, Min: minCount})
			if err != nil {
				assert.Contains(t, err.Error(), "failures: SurgeRule.")
			}
		})
	})
}

// FuzzClientConfig: NewClient and NewTransport return an error naming a
// ClientConfig field, or a usable client, for any numbers.
func FuzzClientConfig(f *testing.F) {
	for _, v := range extremes {
		f.Add(int(v), int(v), v, v, v, v, v, v, false, false)
		f.Add(0, 0, int64(0), int64(0), int64(0), int64(0), int64(0), v, true, false)
		f.Add(25, 0, int64(0), int64(0), int64(0), int64(0), v, int64(0), true, true)
	}
	f.Fuzz(func(t *testing.T, conns, idle int, idleTimeout, dial, keepAlive, tlsTimeout, headerTimeout, timeout int64, block, proxy bool) {
		cfg := httpclient.Config{
			MaxConnsPerHost: conns, MaxIdleConnsPerHost: idle, IdleConnTimeout: time.Duration(idleTimeout),
			DialTimeout: time.Duration(dial), KeepAlive: time.Duration(keepAlive), TLSHandshakeTimeout: time.Duration(tlsTimeout),
			ResponseHeaderTimeout: time.Duration(headerTimeout), Timeout: time.Duration(timeout), BlockPrivateAddresses: block,
		}
		if proxy {
			cfg.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: "proxy.example:3128"})
		}
		c, err := httpclient.New(cfg)
		tr, terr := httpclient.NewTransport(cfg)
		assert.Equal(t, err == nil, terr == nil, "NewClient and NewTransport agree")
		if err != nil {
			assert.Contains(t, err.Error(), "httpclient: Config.")
			return
		}
		require.NotNil(t, c.Transport)
		assert.GreaterOrEqual(t, c.Timeout, time.Duration(0))
		tr.CloseIdleConnections()
	})
}

// FuzzLogConfig: NewLogObserver returns an error or an observer that logs
// an attempt with a payload without panicking.
func FuzzLogConfig(f *testing.F) {
	for _, v := range extremes {
		f.Add(int(v), true, "password")
		f.Add(int(v), false, "")
	}
	f.Fuzz(func(t *testing.T, maxPayload int, logPayloads bool, field string) {
		o, err := logging.NewObserver(logging.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug})), MaxPayload: maxPayload, LogPayloads: logPayloads, RedactFields: []string{field}})
		if err != nil {
			assert.Contains(t, err.Error(), "logging: Config.")
			return
		}
		o.ObserveAttempt(context.Background(), delivery.AttemptEvent{
			Record: delivery.Record{Message: delivery.Message{ID: "a", Payload: []byte(`{"password":"x","n":1}`)}},
			Action: delivery.ActionDeadLetter, Attempt: delivery.Attempt{Class: classify.ClassPermanent},
		})
	})
}

// fuzzRoundTripper answers requests without a network.
type fuzzRoundTripper func(*http.Request) (*http.Response, error)

func (f fuzzRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// FuzzHTTPConfig: NewHTTPDeliverer returns an error naming an HTTPConfig
// field, or a deliverer that classifies an answer of any status and body
// without panicking, whatever the drain and body limits.
func FuzzHTTPConfig(f *testing.F) {
	for _, v := range extremes {
		f.Add(v, int(v), "Idempotency-Key", 200, "ok")
		f.Add(v, int(v), "-", 503, "already exists")
		f.Add(int64(0), 0, "Bad Header", 201, "")
	}
	f.Fuzz(func(t *testing.T, maxDrain int64, maxBody int, idemHeader string, status int, body string) {
		status = 100 + abs(status%500)
		if status < 200 {
			status += 100 // a 1xx is not a final answer
		}
		client := &http.Client{Transport: fuzzRoundTripper(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})}
		d, err := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo("https://partner.example/records", "application/json"),
			MaxDrain: maxDrain, Rules: classify.HTTPRules{MaxBody: maxBody}, IdempotencyHeader: idemHeader})
		if err != nil {
			assert.Contains(t, err.Error(), "httpdelivery: Config.")
			return
		}
		err = d.Deliver(context.Background(), &delivery.Message{ID: "a", Payload: []byte(`{}`)})
		if status < 300 {
			assert.NoError(t, err, "status %d", status)
		} else {
			assert.Error(t, err, "status %d", status)
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
