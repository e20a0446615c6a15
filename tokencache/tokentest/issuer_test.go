package tokentest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

func postToken(t *testing.T, h http.Handler, form url.Values, user, pass string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/oauth/token", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		r.SetBasicAuth(user, pass)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestIssuerEndpoint(t *testing.T) {
	iss := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: 90 * time.Second, ClientID: "svc", ClientSecret: "pw"})
	grant := url.Values{"grant_type": {"client_credentials"}}

	w := postToken(t, iss, grant, "svc", "pw")
	require.Equal(t, http.StatusOK, w.Code)
	require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	require.Equal(t, "Bearer", body.TokenType)
	require.Equal(t, 90, body.ExpiresIn)
	require.True(t, iss.Valid(body.AccessToken))
	exp, err := tokencache.JWTExpiry(body.AccessToken)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(90*time.Second), exp, 2*time.Second)

	// Credentials as form fields work too.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"pw"}}
	require.Equal(t, http.StatusOK, postToken(t, iss, form, "", "").Code)
	require.Equal(t, 2, iss.Mints())

	for _, tc := range []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		code       string
	}{
		{"wrong secret", grant, "svc", "nope", http.StatusUnauthorized, "invalid_client"},
		{"no credentials", grant, "", "", http.StatusUnauthorized, "invalid_client"},
		{"wrong grant", url.Values{"grant_type": {"password"}}, "svc", "pw", http.StatusBadRequest, "unsupported_grant_type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := postToken(t, iss, tc.form, tc.user, tc.pass)
			require.Equal(t, tc.status, w.Code)
			require.Contains(t, w.Body.String(), tc.code)
		})
	}
	w = httptest.NewRecorder()
	iss.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/oauth/token", nil))
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, 2, iss.Mints(), "rejected requests mint nothing")
}

func TestIssuerFailNext(t *testing.T) {
	iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
	iss.FailNext(2)
	grant := url.Values{"grant_type": {"client_credentials"}}
	require.Equal(t, http.StatusServiceUnavailable, postToken(t, iss, grant, "", "").Code)
	_, err := iss.Source().Token(t.Context())
	require.ErrorIs(t, err, tokentest.ErrIssuerFailing)
	require.Equal(t, classify.ClassEphemeral, classify.Of(err))
	require.Equal(t, http.StatusOK, postToken(t, iss, grant, "", "").Code)
	require.Equal(t, 3, iss.Attempts())
	require.Equal(t, 1, iss.Mints())
}

func TestIssuerValid(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		iss := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: time.Minute})
		mint := func() string {
			tok, err := iss.Source().Token(t.Context())
			require.NoError(t, err)
			return tok.Value
		}
		a, b := mint(), mint()
		require.True(t, iss.Valid(a))
		require.False(t, iss.Valid(""))
		require.False(t, iss.Valid("opaque"))

		// Same claims signed with another key.
		claims := jwt.MapClaims{}
		_, _, err := jwt.NewParser().ParseUnverified(a, claims)
		require.NoError(t, err)
		forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("another-key-another-key-32-bytes"))
		require.NoError(t, err)
		require.False(t, iss.Valid(forged), "accepted a token signed with another key")
		other := tokentest.NewIssuer(tokentest.IssuerConfig{})
		require.False(t, other.Valid(a), "accepted another issuer's token")

		iss.Revoke(a)
		require.False(t, iss.Valid(a))
		require.True(t, iss.Valid(b))

		iss.RevokeAll()
		require.False(t, iss.Valid(b))
		c := mint()
		require.True(t, iss.Valid(c), "RevokeAll must not affect later tokens")

		iss.RejectAll(true)
		require.False(t, iss.Valid(c))
		iss.RejectAll(false)
		require.True(t, iss.Valid(c))

		time.Sleep(time.Minute)
		require.False(t, iss.Valid(c), "accepted an expired token")

		issued := iss.Issued()
		require.Len(t, issued, 3)
		require.Equal(t, issued[0].IssuedAt.Add(time.Minute), issued[0].Expiry)
	})
}

func TestIssuerRequire(t *testing.T) {
	iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
	h := iss.Require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	tok, err := iss.Source().Token(t.Context())
	require.NoError(t, err)

	for _, tc := range []struct {
		auth   string
		status int
	}{
		{"Bearer " + tok.Value, http.StatusAccepted},
		{"bearer " + tok.Value, http.StatusAccepted},
		{"", http.StatusUnauthorized},
		{"Basic " + tok.Value, http.StatusUnauthorized},
		{"Bearer nope", http.StatusUnauthorized},
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, tc.status, w.Code)
		if tc.status == http.StatusUnauthorized {
			require.Contains(t, w.Header().Get("WWW-Authenticate"), "invalid_token")
		}
	}
}
