package tokencache_test

import (
	"context"
	"errors"
	"net/http/httptest"
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
