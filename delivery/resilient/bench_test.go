package resilient_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/resilient"
)

// BenchmarkRoundTrip measures the transport's cost on the success path,
// POSTs of a small JSON body with an Idempotency-Key to a loopback server,
// beside bare net/http on the same transport settings.
func BenchmarkRoundTrip(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	payload := []byte(`{"candidate":42,"event":"applied"}`)

	newBase := func(b *testing.B) *http.Transport {
		t, err := httpclient.NewTransport(httpclient.Config{MaxConnsPerHost: 64})
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
	run := func(b *testing.B, client *http.Client) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(payload))
				if err != nil {
					b.Fatal(err)
				}
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Idempotency-Key", "cand-42")
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
	b.Run("net/http", func(b *testing.B) {
		base := newBase(b)
		defer base.CloseIdleConnections()
		run(b, &http.Client{Transport: base})
	})
	b.Run("resilient", func(b *testing.B) {
		base := newBase(b)
		defer base.CloseIdleConnections()
		rt, err := resilient.NewTransport(base, resilient.Config{})
		if err != nil {
			b.Fatal(err)
		}
		run(b, &http.Client{Transport: rt})
	})
}

// okBase answers 200 with no body, without I/O.
type okBase struct{}

func (okBase) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Request: req}, nil
}

// BenchmarkOverhead measures what the transport adds to one successful
// request, without I/O: the retry-safety check, the breaker, the retry
// loop and classification.
func BenchmarkOverhead(b *testing.B) {
	rt, err := resilient.NewTransport(okBase{}, resilient.Config{})
	if err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, "https://partner.example/v1/candidates/cand-42", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rt.RoundTrip(req); err != nil {
			b.Fatal(err)
		}
	}
}
