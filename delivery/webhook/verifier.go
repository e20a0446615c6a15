package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Defaults of VerifierConfig.
const (
	// DefaultTolerance is how far a webhook-timestamp may be from the
	// receiver's clock, in either direction.
	DefaultTolerance = 5 * time.Minute
	// DefaultMaxBody bounds the body VerifyRequest reads.
	DefaultMaxBody = 1 << 20
)

// Errors a Verifier returns, wrapped with the reason; test them with
// errors.Is. None of them carries key material or echoes header values.
var (
	// ErrMissingHeader means webhook-id, webhook-timestamp or
	// webhook-signature is absent or empty.
	ErrMissingHeader = errors.New("webhook: missing header")
	// ErrMalformedHeader means a header is present but not in the form the
	// specification defines.
	ErrMalformedHeader = errors.New("webhook: malformed header")
	// ErrTimestampOutsideTolerance means webhook-timestamp is further from
	// the receiver's clock than the tolerance: a replay of an old request,
	// or a clock far off.
	ErrTimestampOutsideTolerance = errors.New("webhook: timestamp outside tolerance")
	// ErrNoValidSignature means no listed signature verifies with a
	// trusted key: the id, timestamp or body was changed, or the sender
	// signed with a key the receiver does not trust.
	ErrNoValidSignature = errors.New("webhook: no valid signature")
	// ErrBodyTooLarge means VerifyRequest found a body over MaxBody.
	ErrBodyTooLarge = errors.New("webhook: body too large")
)

func missing(header string) error {
	return fmt.Errorf("%w: %s", ErrMissingHeader, header)
}

func malformed(why string) error {
	return fmt.Errorf("%w: %s", ErrMalformedHeader, why)
}

// VerifierConfig configures a Verifier. Keys is required; every other
// field's zero value selects a default.
type VerifierConfig struct {
	// Keys are the trusted keys: whsec_ secrets (v1) and whpk_ public keys
	// (v1a), parsed with ParseKey. A whsk_ secret key is accepted too and
	// verifies with its public half. A webhook is genuine when any one of
	// its signatures verifies with any one of these keys, so during a
	// rotation a receiver may trust the old and the new key at once.
	Keys []Key
	// Tolerance is how far webhook-timestamp may be from Now, in either
	// direction. Zero means DefaultTolerance (5 minutes).
	Tolerance time.Duration
	// Now is the receiver's clock. Nil means time.Now.
	Now func() time.Time
	// MaxBody bounds the body VerifyRequest reads. Zero means
	// DefaultMaxBody (1 MiB).
	MaxBody int64
}

// Verifier checks Standard Webhooks signatures, for receivers and for tests
// of senders. It is safe for concurrent use.
//
// A Verifier does not remember what it has seen: the tolerance bounds how
// long a captured request can be replayed, and the specification asks
// receivers to use webhook-id as an idempotency key to process each
// webhook once.
type Verifier struct {
	keys      []Key
	tolerance time.Duration
	now       func() time.Time
	maxBody   int64
}

// NewVerifier returns a Verifier for cfg. It returns an error naming the
// field when cfg has no key, a zero Key, the same key twice, or a negative
// Tolerance or MaxBody. The error never contains key material.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	var errs []error
	if len(cfg.Keys) == 0 {
		errs = append(errs, errors.New("webhook: VerifierConfig.Keys is empty; give at least one whsec_ or whpk_ key"))
	}
	for i, k := range cfg.Keys {
		if k.d == nil {
			errs = append(errs, fmt.Errorf("webhook: VerifierConfig.Keys[%d] is the zero Key; build keys with ParseKey", i))
			continue
		}
		for j := range i {
			if k.equal(cfg.Keys[j]) {
				errs = append(errs, fmt.Errorf("webhook: VerifierConfig.Keys[%d] is the same key as Keys[%d]", i, j))
				break
			}
		}
	}
	if cfg.Tolerance < 0 {
		errs = append(errs, fmt.Errorf("webhook: VerifierConfig.Tolerance must not be negative, got %v", cfg.Tolerance))
	}
	if cfg.MaxBody < 0 {
		errs = append(errs, fmt.Errorf("webhook: VerifierConfig.MaxBody must not be negative, got %d", cfg.MaxBody))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	v := &Verifier{keys: append([]Key(nil), cfg.Keys...), tolerance: cfg.Tolerance, now: cfg.Now, maxBody: cfg.MaxBody}
	if v.tolerance == 0 {
		v.tolerance = DefaultTolerance
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.maxBody == 0 {
		v.maxBody = DefaultMaxBody
	}
	return v, nil
}

// Verify checks the webhook-id, webhook-timestamp and webhook-signature
// headers in h against body, the raw bytes received (before any JSON
// parsing: a re-serialized body does not verify). It returns nil for a
// genuine webhook, or an error wrapping ErrMissingHeader,
// ErrMalformedHeader, ErrTimestampOutsideTolerance or ErrNoValidSignature.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	return v.VerifyParts(h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature), body)
}

// VerifyParts is Verify with the three header values given directly, for
// receivers whose framework does not hand over an http.Header.
func (v *Verifier) VerifyParts(id, timestamp, signatures string, body []byte) error {
	if err := v.check(); err != nil {
		return err
	}
	switch {
	case id == "":
		return missing(HeaderID)
	case timestamp == "":
		return missing(HeaderTimestamp)
	case signatures == "":
		return missing(HeaderSignature)
	}
	if err := checkID(id); err != nil {
		err.received = true
		return err
	}
	ts, err := parseTimestamp(timestamp)
	if err != nil {
		return err
	}
	if err := v.checkTolerance(ts); err != nil {
		return err
	}
	sigs, err := parseSignatures(signatures)
	if err != nil {
		return err
	}
	content := signedContent(id, timestamp, body)
	var macs [][]byte // of the v1 keys, computed once each
	for _, s := range sigs {
		for i, k := range v.keys {
			switch {
			case s.scheme == SchemeHMAC && k.d.kind == kindSecret:
				if macs == nil {
					macs = make([][]byte, len(v.keys))
				}
				if macs[i] == nil {
					macs[i] = macOf(k.d.secret, content)
				}
				if hmac.Equal(macs[i], s.sig) {
					return nil
				}
			case s.scheme == SchemeEd25519 && k.d.pub != nil:
				if ed25519.Verify(k.d.pub, content, s.sig) {
					return nil
				}
			}
		}
	}
	return fmt.Errorf("%w: none of the %d listed signatures verifies with a trusted key (the id, timestamp or body differs from what was signed, or the key is not trusted)", ErrNoValidSignature, len(sigs))
}

// VerifyRequest reads r's body (at most MaxBody bytes), verifies it and
// r's headers as Verify does, and puts the body back so that the handler
// can read it again. It returns the body, or an error as Verify does, or
// one wrapping ErrBodyTooLarge, or the read error.
func (v *Verifier) VerifyRequest(r *http.Request) ([]byte, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	var body []byte
	if r.Body != nil {
		var err error
		body, err = io.ReadAll(io.LimitReader(r.Body, v.maxBody+1))
		if err != nil {
			return nil, fmt.Errorf("webhook: read request body: %w", err)
		}
		if int64(len(body)) > v.maxBody {
			r.Body = readCloser{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
			return nil, fmt.Errorf("%w: over %d bytes", ErrBodyTooLarge, v.maxBody)
		}
		_ = r.Body.Close()
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	return body, v.Verify(r.Header, body)
}

type readCloser struct {
	io.Reader
	io.Closer
}

// parseTimestamp parses webhook-timestamp: decimal seconds since the Unix
// epoch, digits only.
func parseTimestamp(s string) (time.Time, error) {
	if len(s) > 18 {
		return time.Time{}, malformed(HeaderTimestamp + " is too long")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return time.Time{}, malformed(HeaderTimestamp + " is not a decimal number of seconds")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, malformed(HeaderTimestamp + " is not a decimal number of seconds")
	}
	return time.Unix(n, 0), nil
}

func (v *Verifier) checkTolerance(ts time.Time) error {
	now := v.now()
	switch d := now.Sub(ts); {
	case d > v.tolerance:
		return fmt.Errorf("%w: %s is %v old, more than the %v tolerance", ErrTimestampOutsideTolerance, HeaderTimestamp, d.Truncate(time.Second), v.tolerance)
	case -d > v.tolerance:
		return fmt.Errorf("%w: %s is %v in the future, more than the %v tolerance", ErrTimestampOutsideTolerance, HeaderTimestamp, (-d).Truncate(time.Second), v.tolerance)
	}
	return nil
}

// check refuses a nil or zero Verifier, which trusts no key.
func (v *Verifier) check() error {
	if v == nil || len(v.keys) == 0 {
		return errors.New("webhook: Verifier has no keys; build it with NewVerifier")
	}
	return nil
}

// String describes the Verifier without key material, for example
// "webhook.Verifier(v1, v1a; tolerance 5m0s)".
func (v *Verifier) String() string {
	if v == nil {
		return "webhook.Verifier(nil)"
	}
	return "webhook.Verifier(" + schemes(v.keys) + "; tolerance " + v.tolerance.String() + ")"
}

// GoString is String, so %#v redacts too.
func (v *Verifier) GoString() string { return v.String() }
