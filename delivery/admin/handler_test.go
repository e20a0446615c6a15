package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/admin"
	"github.com/outbound-go/outbound/delivery/memstore"
)

func allowAll(*http.Request, admin.Action) error { return nil }

// fixture is a memstore with records, served by the handler under /ops.
type fixture struct {
	t     *testing.T
	store *memstore.Store
	srv   *httptest.Server
}

func newFixture(t *testing.T, auth admin.Authorizer) *fixture {
	t.Helper()
	return serve(t, memstore.New(memstore.Config{}), auth)
}

// serve is newFixture on store.
func serve(t *testing.T, store *memstore.Store, auth admin.Authorizer) *fixture {
	t.Helper()
	h, err := admin.New(admin.Config{Store: store, Authorize: auth})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/ops/", http.StripPrefix("/ops", h))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{t: t, store: store, srv: srv}
}

// kill enqueues a record and dead-letters it after failing attempts with
// the given error texts, the last one being the dead letter's.
func (f *fixture) kill(id, dest string, headers map[string]string, errs ...string) {
	f.t.Helper()
	ctx := context.Background()
	_, err := f.store.Enqueue(ctx, delivery.Message{ID: id, Destination: dest, Payload: []byte(`{"ssn":"123-45-6789"}`), Headers: headers})
	require.NoError(f.t, err)
	for i, text := range errs {
		recs, err := f.store.Claim(ctx, 1, time.Minute)
		require.NoError(f.t, err)
		require.Len(f.t, recs, 1)
		a := delivery.Attempt{StartedAt: time.Now(), Duration: time.Millisecond, Status: 500 + i, Class: classify.ClassEphemeral, Error: text}
		if i == len(errs)-1 {
			a.Class = classify.ClassPermanent
			require.NoError(f.t, f.store.DeadLetter(ctx, recs[0].Lease(), a))
		} else {
			require.NoError(f.t, f.store.Reschedule(ctx, recs[0].Lease(), time.Now(), &a))
		}
	}
}

// do sends a request and returns the response with its body read.
func (f *fixture) do(req *http.Request) (*http.Response, string) {
	f.t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(f.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(f.t, err)
	return resp, string(body)
}

func (f *fixture) get(path string) (*http.Response, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodGet, f.srv.URL+"/ops"+path, nil)
	require.NoError(f.t, err)
	return f.do(req)
}

// post sends form values, with extra request headers (Origin, Sec-Fetch-Site).
func (f *fixture) post(path string, form url.Values, headers ...string) (*http.Response, string) {
	f.t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/ops"+path, strings.NewReader(form.Encode()))
	require.NoError(f.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return f.do(req)
}

func (f *fixture) state(id string) delivery.State {
	f.t.Helper()
	r, err := f.store.Get(context.Background(), id)
	require.NoError(f.t, err)
	return r.State
}

func TestNewRequiresAnAuthorizer(t *testing.T) {
	_, err := admin.New(admin.Config{Store: memstore.New(memstore.Config{})})
	assert.ErrorIs(t, err, admin.ErrNoAuthorizer)
	_, err = admin.New(admin.Config{Authorize: allowAll})
	assert.Error(t, err, "a store is required")
	_, err = admin.New(admin.Config{Store: memstore.New(memstore.Config{}), Authorize: allowAll, MaxPause: -1})
	assert.Error(t, err)
}

func TestAuthorizerRefuses(t *testing.T) {
	var asked []admin.Action
	f := newFixture(t, func(r *http.Request, a admin.Action) error {
		asked = append(asked, a)
		if r.Header.Get("X-On-Call") == "yes" {
			return nil
		}
		return fmt.Errorf("not on call: %w", admin.ErrForbidden)
	})
	f.kill("d1", "ats", nil, "permanent: http 400")
	for _, path := range []string{"/", "/record?id=d1", "/api/stats", "/api/destinations", "/api/records", "/api/record?id=d1"} {
		resp, body := f.get(path)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, path)
		assert.NotContains(t, body, "d1", "%s: nothing of the store is shown", path)
		assert.NotContains(t, body, "not on call", "the authorizer's error text is not shown")
	}
	resp, _ := f.post("/api/redrive", url.Values{"id": {"d1"}})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, delivery.StateDead, f.state("d1"), "a refused redrive changes nothing")
	assert.Contains(t, asked, admin.ActionRead)
	assert.Equal(t, admin.ActionRedrive, asked[len(asked)-1])

	resp, _ = f.post("/api/redrive", url.Values{"id": {"d1"}}, "X-On-Call", "yes")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, delivery.StatePending, f.state("d1"))
}

func TestCrossSitePostRefused(t *testing.T) {
	f := newFixture(t, allowAll)
	f.kill("d1", "ats", nil, "permanent: http 400")
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "https://evil.example"},
	} {
		resp, body := f.post("/api/redrive", url.Values{"id": {"d1"}}, hdr...)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%v", hdr)
		assert.Contains(t, body, "cross-origin")
		resp, _ = f.post("/api/pause", url.Values{"name": {"ats"}}, hdr...)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%v", hdr)
	}
	assert.Equal(t, delivery.StateDead, f.state("d1"))
	ds, err := f.store.Destinations(context.Background())
	require.NoError(t, err)
	assert.Equal(t, delivery.DestinationActive, ds[0].Status, "no cross-site pause")

	// The page's own forms: same origin.
	resp, _ := f.post("/api/redrive", url.Values{"id": {"d1"}}, "Sec-Fetch-Site", "same-origin", "Origin", f.srv.URL)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, delivery.StatePending, f.state("d1"))
}

func TestActionsArePostOnly(t *testing.T) {
	f := newFixture(t, allowAll)
	f.kill("d1", "ats", nil, "permanent: http 400")
	for _, path := range []string{"/api/redrive?id=d1", "/api/redrive-matching", "/api/pause?name=ats", "/api/resume?name=ats"} {
		resp, _ := f.get(path)
		assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode, path)
	}
	assert.Equal(t, delivery.StateDead, f.state("d1"))
}

func TestHostileTextIsEscaped(t *testing.T) {
	f := newFixture(t, allowAll)
	hostile := `permanent: http 400 <script>alert("pwned")</script><img src=x onerror=alert(1)>`
	f.kill("d1", "ats", map[string]string{"Authorization": "Bearer sk-live-secret", "X-Api-Key": "key-secret"},
		"ephemeral: http 503 <b>busy</b>", hostile)
	for _, path := range []string{"/", "/record?id=d1", "/api/records?state=dead", "/api/record?id=d1"} {
		resp, body := f.get(path)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.NotContains(t, body, "<script>", path)
		assert.NotContains(t, body, "<img", path)
		assert.NotContains(t, body, "<b>busy", path)
		assert.NotContains(t, body, "sk-live-secret", "%s: no header value", path)
		assert.NotContains(t, body, "key-secret", "%s: no header value", path)
		assert.NotContains(t, body, "123-45-6789", "%s: no payload", path)
		csp := resp.Header.Get("Content-Security-Policy")
		assert.Contains(t, csp, "default-src 'none'", path)
		assert.NotContains(t, csp, "script-src", "%s: no script allowed at all", path)
		assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	}
	_, page := f.get("/record?id=d1")
	assert.Contains(t, page, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;", "shown, escaped")
	assert.Contains(t, page, "Authorization", "header names are shown")
}

func TestRecordWithHistoryAndRedriveFromPage(t *testing.T) {
	f := newFixture(t, allowAll)
	f.kill("d1", "ats", nil, "ephemeral: http 503", "ephemeral: http 502", "permanent: http 400 bad email")

	resp, body := f.get("/api/record?id=d1")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var rec struct {
		State   string `json:"state"`
		History []struct {
			Status int    `json:"status"`
			Class  string `json:"class"`
			Error  string `json:"error"`
		} `json:"history"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &rec))
	assert.Equal(t, "dead", rec.State)
	require.Len(t, rec.History, 3)
	assert.Equal(t, "ephemeral: http 503", rec.History[0].Error)
	assert.Equal(t, []int{500, 501, 502}, []int{rec.History[0].Status, rec.History[1].Status, rec.History[2].Status})
	assert.Equal(t, "permanent", rec.History[2].Class)

	_, page := f.get("/record?id=d1")
	assert.Equal(t, 3, strings.Count(page, `<tr class="attempt">`), "the page shows the whole history")
	assert.Contains(t, page, `id="redrive"`, "a dead record has a redrive button")

	// The page's form: redirected back to the record, relative to where
	// the handler is mounted.
	resp, _ = f.post("/api/redrive", url.Values{"id": {"d1"}, "back": {"record"}})
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, err := resp.Location()
	require.NoError(t, err)
	assert.Equal(t, "/ops/record", loc.Path)
	assert.Equal(t, "d1", loc.Query().Get("id"))
	assert.Equal(t, delivery.StatePending, f.state("d1"))
	_, page = f.get("/record?id=d1")
	assert.NotContains(t, page, `id="redrive"`, "a pending record has none")

	resp, _ = f.get("/api/record?id=nope")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = f.post("/api/redrive", url.Values{"id": {"d1"}})
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "not dead any more")
	resp, _ = f.post("/api/redrive", url.Values{})
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "no id")
}

func TestPauseAndResume(t *testing.T) {
	f := newFixture(t, allowAll)
	f.kill("d1", "ats", nil, "permanent: http 400")
	resp, body := f.post("/api/pause", url.Values{"name": {"ats"}, "for": {"2h"}, "reason": {"partner maintenance"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.Contains(t, body, `"status":"paused"`)
	_, page := f.get("/")
	assert.Contains(t, page, "partner maintenance")
	assert.Contains(t, page, `action="api/resume"`, "a paused destination has a resume button")

	for _, bad := range []string{"soon", "-1h", "0s", "10000h"} {
		resp, _ = f.post("/api/pause", url.Values{"name": {"ats"}, "for": {bad}})
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}
	resp, _ = f.post("/api/resume", url.Values{"name": {"ats"}, "back": {"home"}})
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	loc, err := resp.Location()
	require.NoError(t, err)
	assert.Equal(t, "/ops/", loc.Path)
	ds, err := f.store.Destinations(context.Background())
	require.NoError(t, err)
	assert.Equal(t, delivery.DestinationActive, ds[0].Status)
	resp, _ = f.post("/api/resume", url.Values{"name": {"unknown"}})
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)

	resp, body = f.post("/api/disable", url.Values{"name": {"ats"}, "reason": {"contract ended"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	ds, err = f.store.Destinations(context.Background())
	require.NoError(t, err)
	assert.Equal(t, delivery.DestinationDisabled, ds[0].Status)
	assert.Equal(t, "contract ended", ds[0].Reason)
	resp, _ = f.get("/api/disable?name=ats")
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

// TestFiltersAndPaging lists 10,000 records through the API: by state,
// destination, error text and time, page by page.
func TestFiltersAndPaging(t *testing.T) {
	f := newFixture(t, allowAll)
	ctx := context.Background()
	const n = 10_000
	msgs := make([]delivery.Message, n)
	for i := range msgs {
		dest := "ats"
		if i%4 == 0 {
			dest = "crm"
		}
		msgs[i] = delivery.Message{ID: fmt.Sprintf("r%05d", i), Destination: dest, Key: fmt.Sprint("k", i%500), Payload: []byte("{}")}
	}
	_, err := f.store.Enqueue(ctx, msgs...)
	require.NoError(t, err)
	start := time.Now()
	// Dead-letter every tenth record, a third of them with a 410.
	dead, gone := 0, 0
	for {
		recs, err := f.store.Claim(ctx, 1000, time.Minute)
		require.NoError(t, err)
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			var i int
			_, err := fmt.Sscanf(r.ID, "r%05d", &i)
			require.NoError(t, err)
			switch {
			case i%10 == 0 && i%30 == 0:
				gone++
				dead++
				require.NoError(t, f.store.DeadLetter(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassPermanent, Status: 410, Error: "permanent: http 410 Gone"}))
			case i%10 == 0:
				dead++
				require.NoError(t, f.store.DeadLetter(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassPermanent, Status: 400, Error: "permanent: http 400"}))
			default:
				require.NoError(t, f.store.Complete(ctx, r.Lease(), delivery.Attempt{Class: classify.ClassOK, Status: 200}, false))
			}
		}
	}

	count := func(query string) int {
		t.Helper()
		total, pages, after := 0, 0, ""
		for {
			q := query + "&limit=1000"
			if after != "" {
				q += "&after=" + url.QueryEscape(after)
			}
			resp, body := f.get("/api/records?" + q)
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			var page struct {
				Records []struct {
					ID    string `json:"id"`
					State string `json:"state"`
				} `json:"records"`
				Next string `json:"next"`
			}
			require.NoError(t, json.Unmarshal([]byte(body), &page))
			total += len(page.Records)
			pages++
			require.LessOrEqual(t, pages, 20)
			if page.Next == "" {
				return total
			}
			after = page.Next
		}
	}
	assert.Equal(t, n, count("x=1"))
	assert.Equal(t, dead, count("state=dead"))
	assert.Equal(t, n-dead, count("state=delivered"))
	assert.Equal(t, gone, count("state=dead&error=410"))
	assert.Equal(t, n/20, count("state=dead&destination=crm"), "every twentieth record is a crm dead letter")
	assert.Equal(t, n/500, count("key=k7"), "every 500th record has key k7")
	assert.Equal(t, n/500, count("key=k10&state=dead"), "key k10's records are all tenth records: dead")
	assert.Equal(t, 0, count("key=k7&state=dead"))
	assert.Equal(t, n, count("updated_after="+url.QueryEscape(start.Add(-time.Second).Format(time.RFC3339Nano))))
	assert.Equal(t, 0, count("updated_before="+url.QueryEscape(start.Add(-time.Hour).Format(time.RFC3339Nano))))

	for _, bad := range []string{"state=undead", "limit=0", "limit=1001", "updated_after=yesterday", "after=zzz"} {
		resp, _ := f.get("/api/records?" + bad)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, bad)
	}

	// Redrive by filter: a dry run counts, then the redrive moves them.
	resp, body := f.post("/api/redrive-matching", url.Values{"destination": {"crm"}, "class": {"permanent"}, "dry_run": {"1"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.JSONEq(t, `{"matching": 500, "dry_run": true}`, body)
	assert.Equal(t, 500, count("state=dead&destination=crm"), "a dry run changes nothing")
	resp, body = f.post("/api/redrive-matching", url.Values{"destination": {"crm"}})
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	assert.JSONEq(t, `{"redriven": 500}`, body)
	assert.Equal(t, 0, count("state=dead&destination=crm"))
	resp, _ = f.post("/api/redrive-matching", url.Values{"class": {"nonsense"}})
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)

	// The page lists the dead letters with their count.
	_, page := f.get("/")
	assert.Contains(t, page, fmt.Sprintf(`<td id="count-dead">%d</td>`, dead-500))
	assert.Contains(t, page, "next page", "more dead letters than one page")
}
