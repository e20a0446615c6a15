package tokencache

import "context"

// Source mints a new token each time Token is called. The cache calls it at
// most once per refresh, with a context that ends at Config.MintTimeout or
// when the cache is closed.
//
// A Source should not cache tokens itself: after a partner rejects a token,
// the cache asks for a new one and must get one.
type Source interface {
	// Token mints a token. It returns an error if the issuer could not be
	// reached or refused; the error must not contain credentials. The
	// Cache redacts the text of a Source's error (what is shaped like a
	// credential) and cuts it to MaxErrorText bytes before reporting it,
	// as a safety net; only the Source knows its own secret, so it must
	// remove a secret the issuer echoes as plain words (ClientCredentials
	// does).
	Token(ctx context.Context) (Token, error)
}

// SourceFunc adapts an ordinary function to a Source.
type SourceFunc func(ctx context.Context) (Token, error)

// Token calls f(ctx) and returns its result.
func (f SourceFunc) Token(ctx context.Context) (Token, error) { return f(ctx) }
