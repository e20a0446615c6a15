package httpdelivery_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// hit is a request a test server received.
type hit struct {
	method, path, body, auth, apiKey string
}

// hitLog records the requests of a test server.
type hitLog struct {
	mu   sync.Mutex
	hits []hit
}

func (l *hitLog) record(r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hits = append(l.hits, hit{r.Method, r.URL.Path, string(body), r.Header.Get("Authorization"), r.Header.Get("X-Api-Key")})
}

func (l *hitLog) since(n int) []hit {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]hit(nil), l.hits[n:]...)
}

func (l *hitLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.hits)
}

// redirectingPartner answers /records/<status>?to=<url> with that redirect
// and anything else with 200.
func redirectingPartner(t *testing.T) (*httptest.Server, *hitLog) {
	log := &hitLog{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.record(r)
		if s, ok := strings.CutPrefix(r.URL.Path, "/records/"); ok {
			status, _ := strconv.Atoi(s)
			w.Header().Set("Location", r.URL.Query().Get("to"))
			w.WriteHeader(status)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, log
}

const redirectPayload = `{"record":42}`

// nonReplayable builds a POST whose body cannot be read twice (no GetBody).
func nonReplayable(target string) httpdelivery.RequestBuilder {
	return func(ctx context.Context, m *delivery.Message) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, io.NopCloser(bytes.NewReader(m.Payload)))
		if err != nil {
			return nil, err
		}
		req.ContentLength = int64(len(m.Payload))
		return req, nil
	}
}

func addrPort(t *testing.T, srv *httptest.Server) netip.AddrPort {
	ap, err := netip.ParseAddrPort(srv.Listener.Addr().String())
	require.NoError(t, err)
	return ap
}

// TestRedirectsNeverLoseARecordOrLeakCredentials sends a POST that the
// partner answers with each redirect status, to its own origin and to
// another one, with and without a replayable body, through every kind of
// client a user can hand to the HTTP deliverer. A record is reported
// delivered only when the partner received its body with the same method,
// and no header (bearer token, API key) ever reaches the other origin.
func TestRedirectsNeverLoseARecordOrLeakCredentials(t *testing.T) {
	partner, partnerLog := redirectingPartner(t)
	other, otherLog := redirectingPartner(t)

	iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
	cache, err := tokencache.New(iss.Source(), tokencache.Config{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cache.Close() })

	newClient := func(cfg httpclient.Config) *http.Client {
		c, err := httpclient.New(cfg)
		require.NoError(t, err)
		t.Cleanup(c.CloseIdleConnections)
		return c
	}
	ownTransport := func() *http.Transport {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		t.Cleanup(tr.CloseIdleConnections)
		return tr
	}
	guarded, err := httpclient.New(httpclient.Config{BlockPrivateAddresses: true, AllowedAddresses: []netip.AddrPort{addrPort(t, partner)}})
	require.NoError(t, err)
	t.Cleanup(guarded.CloseIdleConnections)

	clients := []struct {
		name    string
		client  *http.Client
		follows bool // whether the client's own policy lets a redirect through
	}{
		{"NewClient", newClient(httpclient.Config{}), true},
		{"own client, net/http's redirect policy", &http.Client{Transport: ownTransport()}, true},
		{"own client following everything", &http.Client{Transport: ownTransport(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}, true},
		{"own client following nothing", &http.Client{Transport: ownTransport(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, false},
		{"tokencache.Transport", &http.Client{Transport: &tokencache.Transport{Base: ownTransport(), Cache: cache}}, true},
		{"dial guard, redirect to loopback", guarded, true},
	}
	targets := []struct {
		name, url  string
		sameOrigin bool
	}{
		{"same origin", partner.URL + "/moved?sig=s3cr3t", true},
		{"another origin", other.URL + "/stolen?sig=s3cr3t", false},
	}
	for _, c := range clients {
		for _, status := range []int{301, 302, 303, 307, 308} {
			for _, target := range targets {
				for _, replayable := range []bool{true, false} {
					name := c.name + "/" + strconv.Itoa(status) + "/" + target.name + "/replayable=" + strconv.FormatBool(replayable)
					t.Run(name, func(t *testing.T) {
						u := partner.URL + "/records/" + strconv.Itoa(status) + "?to=" + url.QueryEscape(target.url)
						build := httpdelivery.PostTo(u, "application/json")
						if !replayable {
							build = nonReplayable(u)
						}
						d := newDeliverer(t, httpdelivery.Config{Client: c.client, Build: build})
						m := &delivery.Message{ID: "r1", Payload: []byte(redirectPayload), Headers: map[string]string{"X-Api-Key": "k-s3cr3t"}}
						partnerBefore, otherBefore := partnerLog.len(), otherLog.len()

						err := d.Deliver(t.Context(), m)

						partnerHits, otherHits := partnerLog.since(partnerBefore), otherLog.since(otherBefore)
						require.NotEmpty(t, partnerHits)
						assert.Equal(t, redirectPayload, partnerHits[0].body)
						for _, h := range otherHits {
							assert.Empty(t, h.auth, "a bearer token reached another origin")
							assert.Empty(t, h.apiKey, "an API key reached another origin")
						}
						if err == nil {
							// Delivered: the body must have reached the new
							// location with the method it was sent with.
							require.Len(t, partnerHits, 2)
							assert.Equal(t, hit{http.MethodPost, "/moved", redirectPayload, partnerHits[0].auth, "k-s3cr3t"}, partnerHits[1])
						}

						followed := c.follows && (status == 307 || status == 308) && replayable && target.sameOrigin
						if followed {
							require.NoError(t, err)
							assert.Empty(t, otherHits)
							return
						}
						require.Error(t, err)
						assert.Equal(t, classify.ClassPermanent, classify.Of(err), "err: %v", err)
						assert.Equal(t, status, classify.Status(err))
						var moved *httpclient.RedirectError
						require.True(t, errors.As(err, &moved), "err: %v", err)
						assert.Equal(t, status, moved.Status)
						switch {
						case status < 307:
							assert.Equal(t, "a "+strconv.Itoa(status)+" turns the POST into a GET without its body", moved.Reason)
						case !replayable:
							assert.Equal(t, "the request's body cannot be replayed", moved.Reason)
						case !target.sameOrigin:
							assert.Contains(t, moved.Reason, "another origin")
						default:
							assert.Equal(t, "the client's own redirect policy stopped it", moved.Reason)
						}
						assert.Contains(t, err.Error(), moved.Reason)
						assert.Contains(t, err.Error(), "moved its API to ")
						wantHost, _ := url.Parse(target.url)
						assert.Contains(t, moved.Location, wantHost.Host+wantHost.Path, "the Location names where the API went")
						assert.NotContains(t, err.Error(), "s3cr3t", "the Location is redacted")
						assert.Len(t, partnerHits, 1, "the redirect was not followed")
						assert.Empty(t, otherHits, "the redirect was not followed")
					})
				}
			}
		}
	}
}

// TestRedirectChainsAreBounded follows a partner that redirects to itself
// forever: the deliverer gives up after MaxRedirects and reports the
// redirect, as Permanent.
func TestRedirectChainsAreBounded(t *testing.T) {
	var hits int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		_, _ = io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, "/loop", http.StatusPermanentRedirect)
	}))
	defer srv.Close()
	client, err := httpclient.New(httpclient.Config{})
	require.NoError(t, err)
	defer client.CloseIdleConnections()
	d := newDeliverer(t, httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(srv.URL+"/loop", "text/plain")})
	err = d.Deliver(t.Context(), msg("m"))
	var moved *httpclient.RedirectError
	require.ErrorAs(t, err, &moved)
	assert.Equal(t, classify.ClassPermanent, classify.Of(err))
	assert.Contains(t, moved.Reason, strconv.Itoa(httpclient.MaxRedirects)+" redirects were followed already")
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, httpclient.MaxRedirects+1, hits)
}

// TestRedirectStatusMappedByTheUserIsItsAnswer: a partner that answers a
// POST with 303 See Other once it has stored the record (the
// post/redirect/get pattern) can have 303 mapped to OK; it is then not
// followed and not reported as a move.
func TestRedirectStatusMappedByTheUserIsItsAnswer(t *testing.T) {
	partner, log := redirectingPartner(t)
	d := newDeliverer(t, httpdelivery.Config{
		Build: httpdelivery.PostTo(partner.URL+"/records/303?to=/records/created/1", "application/json"),
		Rules: classify.HTTPRules{Statuses: map[int]classify.Class{http.StatusSeeOther: classify.ClassOK}},
	})
	require.NoError(t, d.Deliver(t.Context(), &delivery.Message{ID: "r", Payload: []byte(redirectPayload)}))
	assert.Equal(t, []hit{{http.MethodPost, "/records/303", redirectPayload, "", ""}}, log.since(0))
}
