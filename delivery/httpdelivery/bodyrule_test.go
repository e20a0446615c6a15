package httpdelivery_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
)

// TestHTTPDelivererBodyRuleCannotDeliverAnOutage: a partner in an outage
// answers 503 with an HTML error page that happens to contain "already
// exists". A body rule in HTTPRules.Body must not mark that delivered (the
// record would be lost); the attempt stays Ephemeral and is retried. The
// same rule scoped to 503 in BodyByStatus is the user saying that this
// partner means it, and decides.
func TestHTTPDelivererBodyRuleCannotDeliverAnOutage(t *testing.T) {
	const page = `<html><body><h1>Service Unavailable</h1><p>The node already exists in the pool and is restarting.</p></body></html>`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, page)
	}))
	defer srv.Close()

	for _, tc := range []struct {
		name  string
		rules classify.HTTPRules
		want  classify.Class
	}{
		{"no body rule", classify.HTTPRules{}, classify.ClassEphemeral},
		{"Body says duplicate", classify.HTTPRules{Body: classify.BodyContains("already exists", classify.ClassDuplicate)}, classify.ClassEphemeral},
		{"Body says ok", classify.HTTPRules{Body: classify.BodyContains("already exists", classify.ClassOK)}, classify.ClassEphemeral},
		{"Body says discard", classify.HTTPRules{Body: classify.BodyContains("already exists", classify.ClassDiscard)}, classify.ClassDiscard},
		{"rule scoped to 500 does not apply", classify.HTTPRules{BodyByStatus: map[int]classify.BodyRule{
			http.StatusInternalServerError: classify.BodyContains("already exists", classify.ClassDuplicate),
		}}, classify.ClassEphemeral},
		{"rule scoped to 503 decides", classify.HTTPRules{BodyByStatus: map[int]classify.BodyRule{
			http.StatusServiceUnavailable: classify.BodyContains("already exists", classify.ClassDuplicate),
		}}, classify.ClassDuplicate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDeliverer(t, httpdelivery.Config{
				Client: srv.Client(),
				Build:  httpdelivery.PostTo(srv.URL+"/records", "application/json"),
				Rules:  tc.rules,
			})
			err := d.Deliver(context.Background(), msg("rec-1"))
			require.Error(t, err, "a 503 is never plain success")
			assert.Equal(t, tc.want, classify.Of(err), "err: %v", err)
			assert.Equal(t, http.StatusServiceUnavailable, classify.Status(err))
		})
	}
}

// TestHTTPDelivererScopedBodyRuleReadsTheBody: a rule in BodyByStatus alone
// (no Body rule) still gets the body it needs: the whole BodyLimit of a
// success, which the deliverer otherwise does not read at all, and of a
// failure, beyond the short snippet kept for the error.
func TestHTTPDelivererScopedBodyRuleReadsTheBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var status, pad int
		_, _ = fmt.Sscanf(r.URL.Query().Get("s"), "%d", &status)
		_, _ = fmt.Sscanf(r.URL.Query().Get("pad"), "%d", &pad)
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, "%*s%s", pad, "", `{"error":"invalid record"}`)
	}))
	defer srv.Close()
	rules := classify.HTTPRules{BodyByStatus: map[int]classify.BodyRule{
		http.StatusOK:                  classify.BodyContains("invalid record", classify.ClassDiscard),
		http.StatusInternalServerError: classify.BodyContains("invalid record", classify.ClassDiscard),
	}}
	for _, tc := range []struct {
		status, pad int
		want        classify.Class
	}{
		{http.StatusOK, 0, classify.ClassDiscard},
		{http.StatusInternalServerError, 2 * classify.MaxBodySnippet, classify.ClassDiscard},
		{http.StatusBadGateway, 0, classify.ClassEphemeral},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			d := newDeliverer(t, httpdelivery.Config{
				Client: srv.Client(),
				Build:  httpdelivery.PostTo(fmt.Sprintf("%s/?s=%d&pad=%d", srv.URL, tc.status, tc.pad), "application/json"),
				Rules:  rules,
			})
			err := d.Deliver(context.Background(), msg("rec-2"))
			assert.Equal(t, tc.want, classify.Of(err), "err: %v", err)
		})
	}
}
