package health_test

import (
	"context"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/health"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// settable is a Checker that answers whatever error it was last given.
type settable struct{ err error }

func (s *settable) Check(context.Context) error { return s.err }

// fixture is a service with a critical database and a non-critical partner,
// each probed once at the start of the bubble and again a minute later.
type fixture struct {
	db, partner *settable
	endpoint    *health.Endpoint
	monitors    []*health.Monitor
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{db: &settable{}, partner: &settable{}}
	var comps []health.Component
	for _, c := range []struct {
		name     string
		checker  *settable
		critical bool
		typ      string
	}{{"db", f.db, true, "datastore"}, {"partner", f.partner, false, ""}} {
		m, err := health.NewMonitor(health.MonitorConfig{Name: c.name, Checker: c.checker, FailureThreshold: 1, SuccessThreshold: 1})
		require.NoError(t, err)
		f.monitors = append(f.monitors, m)
		comps = append(comps, health.Component{Monitor: m, Critical: c.critical, Type: c.typ})
	}
	var err error
	f.endpoint, err = health.NewEndpoint(health.EndpointConfig{
		Components: comps, ServiceID: "billing-sync", Version: "1.4.2",
	})
	require.NoError(t, err)
	return f
}

func (f *fixture) probe(t *testing.T) {
	t.Helper()
	for _, m := range f.monitors {
		_ = m.Check(t.Context())
	}
}

func TestEndpointGolden(t *testing.T) {
	errLeaky := errors.New(`Get "https://user:pw@partner.example/health?api_key=hunter2": ` +
		"read tcp 10.0.0.1:443: connection reset by peer\nAuthorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")
	tests := []struct {
		name        string
		db, partner error
		wantCode    int
		wantStatus  health.CheckStatus
	}{
		{name: "up", wantCode: http.StatusOK, wantStatus: health.StatusPass},
		{name: "degraded", partner: errLeaky, wantCode: http.StatusOK, wantStatus: health.StatusWarn},
		{name: "down", db: errors.New("dial tcp 10.0.0.2:5432: connection refused"), partner: errLeaky,
			wantCode: http.StatusServiceUnavailable, wantStatus: health.StatusFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFixture(t)
				f.probe(t) // both up at 2000-01-01T00:00:00Z
				time.Sleep(time.Minute)
				f.db.err, f.partner.err = tt.db, tt.partner
				f.probe(t)

				rec := httptest.NewRecorder()
				f.endpoint.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
				assert.Equal(t, tt.wantCode, rec.Code)
				assert.Equal(t, "application/health+json", rec.Header().Get("Content-Type"))
				assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
				assert.Equal(t, tt.wantStatus, f.endpoint.Report().Status)
				body := rec.Body.String()
				for _, secret := range []string{"hunter2", "pw@", "eyJhbGci", "c2lnbmF0dXJl", "\\n"} {
					assert.NotContains(t, body, secret)
				}
				golden(t, filepath.Join("testdata", "endpoint_"+tt.name+".golden.json"), body)
			})
		})
	}
}

func TestEndpointUnknownIsAWarning(t *testing.T) {
	f := newFixture(t)
	r := f.endpoint.Report()
	assert.Equal(t, health.StatusWarn, r.Status)
	check := r.Checks["db"][0]
	assert.Equal(t, health.StatusWarn, check.Status)
	assert.Equal(t, "not checked yet", check.Output)
	assert.Empty(t, check.Time)
}

func TestEndpointMethods(t *testing.T) {
	f := newFixture(t)
	f.probe(t)
	rec := httptest.NewRecorder()
	f.endpoint.ServeHTTP(rec, httptest.NewRequest(http.MethodHead, "/health", nil))
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Zero(t, rec.Body.Len())

	rec = httptest.NewRecorder()
	f.endpoint.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/health", nil))
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
}

func TestNewEndpointValidates(t *testing.T) {
	_, err := health.NewEndpoint(health.EndpointConfig{})
	assert.ErrorContains(t, err, "EndpointConfig.Components is empty")
	_, err = health.NewEndpoint(health.EndpointConfig{Components: []health.Component{{}}})
	assert.ErrorContains(t, err, "Components[0].Monitor is required")
	m := newMonitor(t, newFakeChecker(true), nil)
	_, err = health.NewEndpoint(health.EndpointConfig{Components: []health.Component{{Monitor: m}, {Monitor: m}}})
	assert.ErrorContains(t, err, `"partner" is used twice`)
}

// golden compares got with the file at path, or rewrites the file when the
// test runs with -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test -run %s -update to create it", t.Name())
	assert.Equal(t, string(want), got)
}
