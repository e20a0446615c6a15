package bench

import (
	"context"
	"errors"
	"time"

	"golang.org/x/oauth2"

	"github.com/outbound-go/outbound/tokencache"
)

// The token comparison times the hit path: a valid token is cached, and a
// caller asks for it before each request. Both caches are warmed with a
// token valid for an hour.

const tokenValue = "bench-opaque-token" // not a secret: an opaque test value

// TokenContenders returns the token caches compared on the hit path, ours
// first: tokencache.Cache.Token, and oauth2.ReuseTokenSource's Token (which
// is what oauth2.Config and clientcredentials hand out).
func TokenContenders() []Contender {
	return []Contender{
		{Name: "outbound tokencache", Setup: tokencacheHit},
		{Name: "x/oauth2 ReuseTokenSource", Setup: oauth2Hit},
	}
}

var errNoToken = errors.New("bench: cache returned no token")

func tokencacheHit() (Op, func(), error) {
	src := tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
		return tokencache.Token{Value: tokenValue, Expiry: time.Now().Add(time.Hour)}, nil
	})
	c, err := tokencache.New(src, tokencache.Config{})
	if err != nil {
		return nil, nil, err
	}
	if _, err := c.Token(context.Background()); err != nil {
		_ = c.Close()
		return nil, nil, err
	}
	return func(ctx context.Context) error {
		t, err := c.Token(ctx)
		if err != nil {
			return err
		}
		if t.Value == "" {
			return errNoToken
		}
		return nil
	}, func() { _ = c.Close() }, nil
}

type oauth2Source struct{}

func (oauth2Source) Token() (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: tokenValue, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour)}, nil
}

func oauth2Hit() (Op, func(), error) {
	ts := oauth2.ReuseTokenSource(nil, oauth2Source{})
	if _, err := ts.Token(); err != nil {
		return nil, nil, err
	}
	return func(context.Context) error {
		t, err := ts.Token()
		if err != nil {
			return err
		}
		if t.AccessToken == "" {
			return errNoToken
		}
		return nil
	}, nil, nil
}
