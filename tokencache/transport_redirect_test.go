package tokencache_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// authLog records the Authorization header of every request a server got.
type authLog struct {
	mu    sync.Mutex
	auths []string
}

func (l *authLog) record(r *http.Request) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.auths = append(l.auths, r.Header.Get("Authorization"))
}

func (l *authLog) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.auths...)
}

// TestTransportNeverSendsTheTokenToAnotherOrigin redirects a request sent
// through tokencache.Transport in a plain http.Client (net/http's own
// redirect policy, which follows every status below and keeps headers for
// the same host name on another port) to another origin: the other server
// must never see the token. A redirect within the origin keeps it.
func TestTransportNeverSendsTheTokenToAnotherOrigin(t *testing.T) {
	iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
	cache := newCache(t, iss.Source(), tokencache.Config{})

	var other authLog
	otherSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.record(r)
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	t.Cleanup(otherSrv.Close)

	var partnerLog authLog
	partnerSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		partnerLog.record(r)
		_, _ = io.Copy(io.Discard, r.Body)
		if status, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/records/")); err == nil {
			w.Header().Set("Location", r.URL.Query().Get("to"))
			w.WriteHeader(status)
			return
		}
		if !iss.Valid(strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")) {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(partnerSrv.Close)

	tr := &tokencache.Transport{Base: http.DefaultTransport.(*http.Transport).Clone(), Cache: cache}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}

	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, tc := range []struct {
			name, target string
			sameOrigin   bool
		}{
			{"same host, another port", otherSrv.URL + "/stolen", false},
			{"another host", strings.Replace(otherSrv.URL, "127.0.0.1", "localhost", 1) + "/stolen", false},
			{"same origin", partnerSrv.URL + "/moved", true},
		} {
			t.Run(strconv.Itoa(status)+"/"+tc.name, func(t *testing.T) {
				partnerBefore, otherBefore := len(partnerLog.seen()), len(other.seen())
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, partnerSrv.URL+"/records/"+strconv.Itoa(status)+"?to="+url.QueryEscape(tc.target), strings.NewReader("record"))
				require.NoError(t, err)
				resp, err := client.Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				require.NoError(t, resp.Body.Close())

				partnerAuths := partnerLog.seen()[partnerBefore:]
				require.NotEmpty(t, partnerAuths)
				assert.True(t, strings.HasPrefix(partnerAuths[0], "Bearer "), "the first request carries the token")
				if tc.sameOrigin {
					require.Len(t, partnerAuths, 2, "the redirect was followed to the same origin")
					assert.Equal(t, partnerAuths[0], partnerAuths[1], "the same origin still gets the token")
					assert.Equal(t, http.StatusOK, resp.StatusCode)
					return
				}
				otherAuths := other.seen()[otherBefore:]
				require.Len(t, otherAuths, 1, "net/http's policy follows the redirect")
				assert.Empty(t, otherAuths[0], "the partner's token reached another origin")
			})
		}
	}
}
