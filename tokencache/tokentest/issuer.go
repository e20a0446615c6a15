package tokentest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/tokencache"
)

// DefaultIssuerTTL is the token lifetime of an Issuer whose TTL is zero.
const DefaultIssuerTTL = time.Hour

// issuerName is the iss claim of every token an Issuer mints.
const issuerName = "outbound-tokentest"

// ErrIssuerFailing is returned by Issuer.Source while the issuer has been
// told to fail (FailNext). It is classified ephemeral, like a 503.
var ErrIssuerFailing = errors.New("tokentest: issuer is failing on purpose")

// IssuerConfig configures a fake Issuer. The zero value is usable.
type IssuerConfig struct {
	// TTL is the lifetime of each minted token. JWT times have whole-second
	// precision, so exp is now+TTL rounded down to the second. Zero (or
	// less than a second) means DefaultIssuerTTL.
	TTL time.Duration
	// ClientID, if set, must be presented with ClientSecret on the token
	// endpoint, with HTTP Basic auth or as form fields (as x/oauth2 does);
	// other requests get 401 invalid_client. Empty means any client is
	// accepted.
	ClientID string
	// ClientSecret is the secret that goes with ClientID.
	ClientSecret string
}

// Issued describes one token an Issuer minted, without its value.
type Issued struct {
	// ID is the token's jti claim.
	ID string
	// IssuedAt is when the issuer minted it (its clock, full precision).
	IssuedAt time.Time
	// Expiry is its exp claim.
	Expiry time.Time
}

// Issuer is a fake OAuth2 token issuer for tests and demos. It is an
// http.Handler serving a client-credentials token endpoint that mints real
// HS256-signed JWTs (a random key per Issuer) with iat, exp and jti; it
// counts mints, can be told to fail, and validates the tokens it issued, so
// a fake partner can answer 401 to a bad one (see Require).
//
// It uses time.Now, so inside a testing/synctest bubble its tokens expire on
// the bubble's clock. An Issuer is safe for concurrent use; it does not need
// a testing.T and can be mounted in any program.
type Issuer struct {
	cfg IssuerConfig
	key []byte

	mu        sync.Mutex
	attempts  int
	failNext  int
	rejectAll bool
	issued    []Issued
	seq       map[string]int // token value -> 1-based mint number
	revoked   map[string]bool
	revokedTo int // tokens with mint number <= revokedTo are revoked
}

// NewIssuer returns an Issuer configured by cfg.
func NewIssuer(cfg IssuerConfig) *Issuer {
	if cfg.TTL < time.Second {
		cfg.TTL = DefaultIssuerTTL
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return &Issuer{cfg: cfg, key: key, seq: make(map[string]int), revoked: make(map[string]bool)}
}

// Mints returns how many tokens the issuer has minted. Failed attempts do
// not count; see Attempts.
func (i *Issuer) Mints() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return len(i.issued)
}

// Attempts returns how many token requests the issuer has received through
// ServeHTTP or Source, including failed ones.
func (i *Issuer) Attempts() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.attempts
}

// Issued returns the tokens minted so far, oldest first, without their
// values.
func (i *Issuer) Issued() []Issued {
	i.mu.Lock()
	defer i.mu.Unlock()
	return append([]Issued(nil), i.issued...)
}

// FailNext makes the next n token requests fail (HTTP 503, or
// ErrIssuerFailing from Source). FailNext(0) stops failing.
func (i *Issuer) FailNext(n int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.failNext = max(n, 0)
}

// Revoke makes Valid reject the token with this value from now on.
func (i *Issuer) Revoke(value string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.revoked[value] = true
}

// RevokeAll makes Valid reject every token minted so far; later tokens are
// valid.
func (i *Issuer) RevokeAll() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.revokedTo = len(i.issued)
}

// RejectAll makes Valid reject every token, old and new, while on is true.
func (i *Issuer) RejectAll(on bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.rejectAll = on
}

// Valid reports whether value is a token this issuer minted, correctly
// signed, not expired and not revoked.
func (i *Issuer) Valid(value string) bool {
	_, err := jwt.Parse(value, func(*jwt.Token) (any, error) { return i.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuerName),
		jwt.WithExpirationRequired(),
	)
	if err != nil {
		return false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	n, ok := i.seq[value]
	return ok && !i.rejectAll && !i.revoked[value] && n > i.revokedTo
}

// Require wraps next so that requests without a valid bearer token from this
// issuer get 401 with a WWW-Authenticate header, as a partner API would
// answer.
func (i *Issuer) Require(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, value, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || !i.Valid(value) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid or missing token", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Source returns a tokencache.Source that mints from this issuer without
// HTTP. Its tokens carry no Expiry, like an issuer that sends no
// expires_in, so a Cache reads exp from the JWT.
func (i *Issuer) Source() tokencache.Source {
	return tokencache.SourceFunc(func(ctx context.Context) (tokencache.Token, error) {
		if err := ctx.Err(); err != nil {
			return tokencache.Token{}, err
		}
		value, err := i.mint()
		if err != nil {
			return tokencache.Token{}, classify.Ephemeral(err)
		}
		return tokencache.Token{Value: value, Type: "Bearer"}, nil
	})
}

// Config returns a client-credentials configuration for this issuer served
// at tokenURL, with its client ID and secret. It sends credentials in the
// Authorization header, so each mint is exactly one request.
func (i *Issuer) Config(tokenURL string) *clientcredentials.Config {
	return &clientcredentials.Config{
		ClientID:     i.cfg.ClientID,
		ClientSecret: i.cfg.ClientSecret,
		TokenURL:     tokenURL,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
}

// ServeHTTP serves the token endpoint: POST with
// grant_type=client_credentials, answering like an OAuth2 server
// (access_token, token_type, expires_in), or with an OAuth2 error.
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	if !i.authenticated(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="tokentest"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	value, err := i.mint()
	if err != nil {
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": value,
		"token_type":   "Bearer",
		"expires_in":   int(i.cfg.TTL / time.Second),
	})
}

func (i *Issuer) authenticated(r *http.Request) bool {
	if i.cfg.ClientID == "" {
		return true
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	return id == i.cfg.ClientID && secret == i.cfg.ClientSecret
}

func oauthError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code})
}

// mint counts an attempt and signs a new token, or fails if told to.
func (i *Issuer) mint() (string, error) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.attempts++
	if i.failNext > 0 {
		i.failNext--
		return "", ErrIssuerFailing
	}
	now := time.Now()
	n := len(i.issued) + 1
	claims := jwt.RegisteredClaims{
		Issuer:    issuerName,
		Subject:   i.cfg.ClientID,
		ID:        strconv.Itoa(n) + "-" + rand.Text(),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(i.cfg.TTL)),
	}
	value, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(i.key)
	if err != nil {
		return "", err
	}
	i.seq[value] = n
	i.issued = append(i.issued, Issued{ID: claims.ID, IssuedAt: now, Expiry: claims.ExpiresAt.Time})
	return value, nil
}
