package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/admin"
	"github.com/outbound-go/outbound/delivery/memstore"
)

// settle enqueues n records for dest and settles them: delivered, or
// discarded when discard is set.
func (f *fixture) settle(prefix, dest string, n int, discard bool) {
	f.t.Helper()
	ctx := context.Background()
	for i := range n {
		_, err := f.store.Enqueue(ctx, delivery.Message{ID: fmt.Sprint(prefix, i), Destination: dest, Payload: []byte("{}")})
		require.NoError(f.t, err)
		recs, err := f.store.Claim(ctx, 1, time.Minute)
		require.NoError(f.t, err)
		require.Len(f.t, recs, 1)
		if discard {
			a := delivery.Attempt{StartedAt: time.Now(), Class: classify.ClassDiscard, Status: 422, Error: "discard: http 422"}
			require.NoError(f.t, f.store.Discard(ctx, recs[0].Lease(), a))
		} else {
			a := delivery.Attempt{StartedAt: time.Now(), Class: classify.ClassOK, Status: 200}
			require.NoError(f.t, f.store.Complete(ctx, recs[0].Lease(), a, false))
		}
	}
}

// counts returns the store's delivered, discarded and dead counts.
func (f *fixture) counts() [3]int64 {
	f.t.Helper()
	st, err := f.store.Stats(context.Background())
	require.NoError(f.t, err)
	return [3]int64{st.Count(delivery.StateDelivered), st.Count(delivery.StateDiscarded), st.Count(delivery.StateDead)}
}

// purgeFixture is a store with 3 delivered, 2 discarded and 1 dead
// records, all changed an hour ago (the store's clock is an hour behind).
func purgeFixture(t *testing.T, auth admin.Authorizer) *fixture {
	t.Helper()
	f := serve(t, memstore.New(memstore.Config{Now: func() time.Time { return time.Now().Add(-time.Hour) }}), auth)
	f.settle("ok-", "ats", 3, false)
	f.settle("bad-", "crm", 2, true)
	f.kill("dead-0", "crm", nil, "permanent: http 400")
	return f
}

func TestPurgeDeletesDeliveredAndDiscarded(t *testing.T) {
	f := purgeFixture(t, allowAll)
	require.Equal(t, [3]int64{3, 2, 1}, f.counts())

	// Nothing is two hours old.
	resp, body := f.post("/api/purge", url.Values{"older_than": {"2h"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.JSONEq(t, `{"purged":0}`, body)
	assert.Equal(t, [3]int64{3, 2, 1}, f.counts())

	// A limit: the oldest first.
	resp, body = f.post("/api/purge", url.Values{"older_than": {"30m"}, "limit": {"2"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.JSONEq(t, `{"purged":2}`, body)
	assert.Equal(t, [3]int64{1, 2, 1}, f.counts())

	resp, body = f.post("/api/purge", url.Values{"updated_before": {time.Now().Add(time.Minute).Format(time.RFC3339Nano)}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.JSONEq(t, `{"purged":3}`, body)
	assert.Equal(t, [3]int64{0, 0, 1}, f.counts(), "the dead letter is never purged")
	_, err := f.store.Get(context.Background(), "ok-2")
	assert.ErrorIs(t, err, delivery.ErrNotFound)

	// From the page's form: back to the page.
	resp, _ = f.post("/api/purge", url.Values{"older_than": {"30m"}, "back": {"home"}})
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
}

func TestPurgeDryRunCounts(t *testing.T) {
	f := purgeFixture(t, allowAll)
	for _, tc := range []struct {
		form url.Values
		want int
	}{
		{url.Values{"older_than": {"30m"}}, 5},
		{url.Values{"older_than": {"30m"}, "limit": {"4"}}, 4},
		{url.Values{"older_than": {"2h"}}, 0},
		{url.Values{"updated_before": {time.Now().Add(time.Minute).Format(time.RFC3339)}}, 5},
	} {
		tc.form.Set("dry_run", "1")
		resp, body := f.post("/api/purge", tc.form)
		require.Equal(t, http.StatusOK, resp.StatusCode, body)
		var got struct {
			Matching int  `json:"matching"`
			DryRun   bool `json:"dry_run"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &got))
		assert.Equal(t, tc.want, got.Matching, "%v", tc.form)
		assert.True(t, got.DryRun)
	}
	assert.Equal(t, [3]int64{3, 2, 1}, f.counts(), "a dry run deletes nothing")
}

func TestPurgeRefused(t *testing.T) {
	var asked []admin.Action
	f := purgeFixture(t, func(r *http.Request, a admin.Action) error {
		asked = append(asked, a)
		if a == admin.ActionPurge && r.Header.Get("X-Purger") != "yes" {
			return admin.ErrForbidden
		}
		return nil
	})
	form := url.Values{"older_than": {"30m"}}

	resp, _ := f.post("/api/purge", form)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, admin.ActionPurge, asked[len(asked)-1])
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		resp, body := f.post("/api/purge", form, append([]string{"X-Purger", "yes"}, hdr...)...)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%v", hdr)
		assert.Contains(t, body, "cross-origin")
	}
	resp, _ = f.get("/api/purge?older_than=30m")
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, "POST only")
	assert.Equal(t, [3]int64{3, 2, 1}, f.counts(), "a refused purge deletes nothing")

	resp, body := f.post("/api/purge", form, "X-Purger", "yes")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.JSONEq(t, `{"purged":5}`, body)
}

func TestPurgeBadInput(t *testing.T) {
	f := purgeFixture(t, allowAll)
	for _, tc := range []struct {
		path string
		form url.Values
		want string
	}{
		{"/api/purge", url.Values{}, "is required"},
		{"/api/purge", url.Values{"older_than": {"1h"}, "updated_before": {"2026-01-02T15:04:05Z"}}, "not both"},
		{"/api/purge", url.Values{"older_than": {"-1h"}}, "older_than"},
		{"/api/purge", url.Values{"older_than": {"a week"}}, "older_than"},
		{"/api/purge", url.Values{"updated_before": {"yesterday"}}, "updated_before"},
		{"/api/purge", url.Values{"older_than": {"30m"}, "limit": {"0"}}, "limit"},
		{"/api/purge", url.Values{"older_than": {"30m"}, "limit": {"100001"}}, "limit"},
		// Store.Purge selects by age only: a narrower selection is
		// refused, not widened to every old record.
		{"/api/purge", url.Values{"older_than": {"30m"}, "destination": {"ats"}}, "by age only"},
		{"/api/purge", url.Values{"older_than": {"30m"}, "id": {"ok-0"}}, "by age only"},
		{"/api/purge", url.Values{"older_than": {"30m"}, "class": {"ok"}, "dry_run": {"1"}}, "by age only"},
		{"/api/purge?key=k1", url.Values{"older_than": {"30m"}}, "by age only"},
	} {
		resp, body := f.post(tc.path, tc.form)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s %v", tc.path, tc.form)
		assert.Contains(t, body, tc.want, "%s %v", tc.path, tc.form)
	}
	assert.Equal(t, [3]int64{3, 2, 1}, f.counts(), "bad input deletes nothing")
}
