package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
)

func BenchmarkHTTP(b *testing.B) {
	srv := NewLoopback()
	defer srv.Close()
	for _, workers := range []int{1, 8, 32} {
		for _, c := range HTTPContenders(srv.URL, workers) {
			b.Run(fmt.Sprintf("c=%d/%s", workers, c.Name), Concurrent(c, workers))
		}
	}
}

// recordingServer counts requests and keeps their bodies and headers.
type recordingServer struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   []string
	idemKeys []string
	types    []string
	status   int
}

func newRecordingServer(status int) *recordingServer {
	s := &recordingServer{status: status}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.bodies = append(s.bodies, r.Method+" "+string(body))
		s.idemKeys = append(s.idemKeys, r.Header.Get("Idempotency-Key"))
		s.types = append(s.types, r.Header.Get("Content-Type"))
		s.mu.Unlock()
		w.WriteHeader(s.status)
	}))
	return s
}

// Every client sends the same request, once per op, and succeeds.
func TestHTTPContendersSendTheSameRequests(t *testing.T) {
	const ops = 40
	for _, c := range HTTPContenders("placeholder", 32) {
		t.Run(c.Name, func(t *testing.T) {
			srv := newRecordingServer(http.StatusOK)
			defer srv.Close()
			c := contenderNamed(t, HTTPContenders(srv.URL, 32), c.Name)
			op, done, err := c.Setup()
			require.NoError(t, err)
			defer done()
			var g errgroup.Group
			g.SetLimit(8)
			for range ops {
				g.Go(func() error { return op(context.Background()) })
			}
			require.NoError(t, g.Wait())
			srv.mu.Lock()
			defer srv.mu.Unlock()
			require.Len(t, srv.bodies, ops)
			for _, b := range srv.bodies {
				assert.Equal(t, "POST "+string(httpPayload), b)
			}
			for i, k := range srv.idemKeys {
				assert.Equal(t, httpIdempotencyKey, k, "every client sends the same Idempotency-Key")
				assert.Equal(t, "application/json", srv.types[i], "every client sends the same Content-Type")
			}
		})
	}
}

// A failing partner is reported as an error by every client, not counted
// as a delivery.
func TestHTTPContendersReportFailures(t *testing.T) {
	srv := newRecordingServer(http.StatusBadRequest) // not retried by anyone
	defer srv.Close()
	for _, c := range HTTPContenders(srv.URL, 32) {
		t.Run(c.Name, func(t *testing.T) {
			op, done, err := c.Setup()
			require.NoError(t, err)
			defer done()
			assert.Error(t, op(context.Background()))
		})
	}
}

func contenderNamed(t *testing.T, cs []Contender, name string) Contender {
	t.Helper()
	for _, c := range cs {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no contender %q", name)
	return Contender{}
}
