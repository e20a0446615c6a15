package tokencache_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"

	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

func TestClientCredentialsSource(t *testing.T) {
	iss := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: 30 * time.Minute, ClientID: "svc", ClientSecret: "pw"})
	srv := httptest.NewServer(iss)
	defer srv.Close()

	src := tokencache.ClientCredentials(iss.Config(srv.URL), srv.Client())
	before := time.Now()
	tok, err := src.Token(t.Context())
	require.NoError(t, err)
	require.True(t, iss.Valid(tok.Value))
	require.Equal(t, "Bearer", tok.Type)
	require.WithinDuration(t, before.Add(30*time.Minute), tok.Expiry, 5*time.Second, "expiry from expires_in")
	require.Equal(t, 1, iss.Mints())

	// Each call mints: caching is the Cache's job.
	_, err = src.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, 2, iss.Mints())

	wrong := iss.Config(srv.URL)
	wrong.ClientSecret = "nope"
	_, err = tokencache.ClientCredentials(wrong, srv.Client()).Token(t.Context())
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "invalid_client", re.ErrorCode)
	require.NotContains(t, err.Error(), "nope")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = src.Token(ctx)
	require.ErrorIs(t, err, context.Canceled)

	_, err = tokencache.ClientCredentials(nil, nil).Token(t.Context())
	require.ErrorContains(t, err, "config is nil")
}

func TestClientCredentialsThroughCache(t *testing.T) {
	iss := tokentest.NewIssuer(tokentest.IssuerConfig{})
	srv := httptest.NewServer(iss)
	defer srv.Close()
	c := newCache(t, tokencache.ClientCredentials(iss.Config(srv.URL), srv.Client()), tokencache.Config{})
	for range 100 {
		_, err := c.Token(t.Context())
		require.NoError(t, err)
	}
	require.Equal(t, 1, iss.Mints())
}

type tokenSourceFunc func() (*oauth2.Token, error)

func (f tokenSourceFunc) Token() (*oauth2.Token, error) { return f() }

func TestFromOAuth2(t *testing.T) {
	exp := time.Now().Add(time.Hour)
	src := tokencache.FromOAuth2(tokenSourceFunc(func() (*oauth2.Token, error) {
		return &oauth2.Token{AccessToken: "abc", TokenType: "bearer", Expiry: exp}, nil
	}))
	tok, err := src.Token(t.Context())
	require.NoError(t, err)
	require.Equal(t, tokencache.Token{Value: "abc", Type: "Bearer", Expiry: exp}, tok)

	boom := errors.New("oauth2: boom")
	_, err = tokencache.FromOAuth2(tokenSourceFunc(func() (*oauth2.Token, error) { return nil, boom })).Token(t.Context())
	require.ErrorIs(t, err, boom)

	_, err = tokencache.FromOAuth2(tokenSourceFunc(func() (*oauth2.Token, error) { return &oauth2.Token{}, nil })).Token(t.Context())
	require.ErrorContains(t, err, "no access token")

	_, err = tokencache.FromOAuth2(nil).Token(t.Context())
	require.ErrorContains(t, err, "token source is nil")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = src.Token(ctx)
	require.ErrorIs(t, err, context.Canceled)
}

// TestFromOAuth2RedactsIssuerErrors: the adapter does not know the
// client's secret, but it redacts what is shaped like a credential in the
// source's error and bounds it, also for a hand-built RetrieveError with no
// response, and keeps the error code for errors.As.
func TestFromOAuth2RedactsIssuerErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  *oauth2.RetrieveError
		code string
	}{
		{"no response, no code", &oauth2.RetrieveError{Body: []byte("client_secret=s3cr3t " + strings.Repeat("z", 1<<20))}, ""},
		{"code and description", &oauth2.RetrieveError{ErrorCode: "invalid_client",
			ErrorDescription: "Authorization: Basic c3ZjOnMzY3IzdA== rejected", Response: &http.Response{StatusCode: 401, Status: "401 Unauthorized"}}, "invalid_client"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tokencache.FromOAuth2(tokenSourceFunc(func() (*oauth2.Token, error) { return nil, tc.err })).Token(t.Context())
			require.Error(t, err)
			require.NotContains(t, err.Error(), "s3cr3t")
			require.NotContains(t, err.Error(), "c3ZjOnMzY3IzdA")
			require.LessOrEqual(t, len(err.Error()), tokencache.MaxErrorText)
			var re *oauth2.RetrieveError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tc.code, re.ErrorCode)
			require.NotContains(t, re.Error(), "s3cr3t")
			require.NotContains(t, string(re.Body), "s3cr3t")
		})
	}
}
