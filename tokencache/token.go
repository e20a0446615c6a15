package tokencache

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// redacted stands in for a token value wherever a Token is printed.
const redacted = "[redacted]"

// Token is an access token and what the cache needs to know about it.
//
// A Token never prints its Value: String, Format (every fmt verb), GoString,
// MarshalJSON and LogValue all redact it, so a Token that ends up in a log
// line, an error or a panic does not leak the credential. The one exception
// Go cannot prevent is a Token held in an unexported struct field that is
// printed with fmt: fmt cannot call methods on unexported fields. Code that
// needs the value (a store, an HTTP header) reads the Value field directly.
type Token struct {
	// Value is the secret sent to the partner, for example a JWT.
	Value string
	// Type is the token type used in the Authorization header. Empty means
	// "Bearer".
	Type string
	// Expiry is when the token stops being valid. The zero value means the
	// source did not say; the cache then reads the JWT exp claim or applies
	// Config.TTL.
	Expiry time.Time
	// IssuedAt is when the token was minted. The cache sets it to the mint
	// time when the source leaves it zero; together with Expiry it gives the
	// token's lifetime, from which the default refresh skew is derived.
	IssuedAt time.Time
}

// AuthorizationType returns the scheme for the Authorization header: Type
// with its usual capitalisation for the standard schemes ("Bearer", "MAC",
// "Basic"), Type unchanged otherwise, or "Bearer" when Type is empty.
func (t Token) AuthorizationType() string {
	switch {
	case t.Type == "", strings.EqualFold(t.Type, "bearer"):
		return "Bearer"
	case strings.EqualFold(t.Type, "mac"):
		return "MAC"
	case strings.EqualFold(t.Type, "basic"):
		return "Basic"
	}
	return t.Type
}

// SetAuthHeader sets the Authorization header of r to the token
// ("Bearer <value>"), replacing any value already there.
func (t Token) SetAuthHeader(r *http.Request) {
	r.Header.Set("Authorization", t.AuthorizationType()+" "+t.Value)
}

// String describes the token without its value, for example
// "Token{Type: Bearer, Expiry: 2025-01-02T15:04:05Z, Value: [redacted]}".
func (t Token) String() string {
	var b strings.Builder
	b.WriteString("Token{Type: ")
	b.WriteString(t.AuthorizationType())
	b.WriteString(", Expiry: ")
	if t.Expiry.IsZero() {
		b.WriteString("none")
	} else {
		b.WriteString(t.Expiry.UTC().Format(time.RFC3339Nano))
	}
	b.WriteString(", Value: ")
	if t.Value == "" {
		b.WriteString("none")
	} else {
		b.WriteString(redacted)
	}
	b.WriteByte('}')
	return b.String()
}

// Format implements fmt.Formatter so that every verb (%v, %+v, %s, %q, %x,
// ...) prints the redacted description from String, and %#v prints
// GoString; never the value.
func (t Token) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(t.GoString()))
	case verb == 'q':
		fmt.Fprintf(f, "%q", t.String())
	default:
		_, _ = f.Write([]byte(t.String()))
	}
}

// GoString implements fmt.GoStringer (%#v) with the value redacted.
func (t Token) GoString() string {
	return fmt.Sprintf("tokencache.Token{Value: %q, Type: %q, Expiry: %s, IssuedAt: %s}",
		redacted, t.Type, t.Expiry.UTC().Format(time.RFC3339Nano), t.IssuedAt.UTC().Format(time.RFC3339Nano))
}

// MarshalJSON encodes the token's metadata with the value redacted, so a
// Token inside a logged or serialised struct does not leak. It never fails.
// To persist a token, write its fields explicitly, as the stores do.
func (t Token) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type     string    `json:"type"`
		Expiry   time.Time `json:"expiry"`
		IssuedAt time.Time `json:"issued_at"`
		Value    string    `json:"value"`
	}{t.AuthorizationType(), t.Expiry, t.IssuedAt, redacted})
}

// LogValue implements slog.LogValuer: the token's type and expiry, never its
// value.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("type", t.AuthorizationType()),
		slog.Time("expiry", t.Expiry),
		slog.String("value", redacted),
	)
}
