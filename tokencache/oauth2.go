package tokencache

import (
	"context"
	"errors"
	"net/http"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// FromOAuth2 adapts an oauth2.TokenSource to a Source.
//
// oauth2.TokenSource.Token takes no context (golang/oauth2 #262), so a mint
// through this adapter cannot be cancelled once it has started; the Cache
// still lets each caller stop waiting when its own context ends. Pass a
// source that mints on every call: a caching source such as
// oauth2.ReuseTokenSource would hand back a token the partner has just
// rejected. For the client-credentials grant prefer [ClientCredentials],
// which does honour the context.
//
// An error from ts has its text redacted (anything shaped like a
// credential: client_secret=…, Authorization values, tokens) and cut to
// MaxErrorText bytes; an *oauth2.RetrieveError in it is replaced by a copy
// made of redacted parts, without the issuer's headers. The adapter does
// not know the client's secret: a secret the issuer echoes as plain words
// is removed only by ClientCredentials.
func FromOAuth2(ts oauth2.TokenSource) Source {
	return SourceFunc(func(ctx context.Context) (Token, error) {
		if ts == nil {
			return Token{}, errors.New("tokencache: FromOAuth2: token source is nil")
		}
		if err := ctx.Err(); err != nil {
			return Token{}, err
		}
		tok, err := ts.Token()
		if err != nil {
			return Token{}, safeIssuerError(err, "", "") // oauth2's errors name their package
		}
		return fromOAuth2Token(tok)
	})
}

// ClientCredentials returns a Source that mints a token with the OAuth2
// client-credentials grant described by cfg (token URL, client ID and
// secret, scopes), one token request per call. client is the HTTP client
// used for the token request; nil means http.DefaultClient. The request is
// bound to the context passed to Token.
//
// An issuer's refusal is returned as an error whose text is safe to log and
// store: cfg.ClientSecret, wherever the issuer echoes it (its body, an
// error_description, a Basic credential), and anything shaped like a
// credential are replaced by "[redacted]", and the text is cut to
// MaxErrorText bytes however large the issuer's answer. errors.As still
// finds an *oauth2.RetrieveError with the issuer's error code; it is a copy
// made of the same redacted parts, without the issuer's headers.
func ClientCredentials(cfg *clientcredentials.Config, client *http.Client) Source {
	return SourceFunc(func(ctx context.Context) (Token, error) {
		if cfg == nil {
			return Token{}, errors.New("tokencache: ClientCredentials: config is nil")
		}
		if client != nil {
			ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
		}
		tok, err := cfg.Token(ctx)
		if err != nil {
			return Token{}, safeIssuerError(err, cfg.ClientID, cfg.ClientSecret) // oauth2's errors name their package
		}
		return fromOAuth2Token(tok)
	})
}

func fromOAuth2Token(tok *oauth2.Token) (Token, error) {
	if tok == nil || tok.AccessToken == "" {
		return Token{}, errors.New("tokencache: oauth2 source returned no access token")
	}
	return Token{Value: tok.AccessToken, Type: tok.Type(), Expiry: tok.Expiry}, nil
}
