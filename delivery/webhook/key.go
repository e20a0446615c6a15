package webhook

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
)

// Prefixes of the serialized keys the Standard Webhooks specification
// defines.
const (
	// SecretPrefix begins a v1 (HMAC-SHA256) shared secret.
	SecretPrefix = "whsec_"
	// SecretKeyPrefix begins a v1a (Ed25519) secret key, used to sign.
	SecretKeyPrefix = "whsk_"
	// PublicKeyPrefix begins a v1a (Ed25519) public key, used to verify.
	PublicKeyPrefix = "whpk_"
)

// Bounds of a v1 secret's decoded length, from the specification: between
// 192 and 512 bits.
const (
	MinSecretBytes = 24
	MaxSecretBytes = 64
)

// Signature scheme identifiers: the version prefix of each entry in the
// webhook-signature header.
const (
	SchemeHMAC    = "v1"  // HMAC-SHA256 with a whsec_ secret
	SchemeEd25519 = "v1a" // Ed25519 with a whsk_/whpk_ key pair
)

type keyKind uint8

const (
	kindSecret    keyKind = iota + 1 // whsec_: signs and verifies v1
	kindSecretKey                    // whsk_: signs v1a (and verifies with its public half)
	kindPublicKey                    // whpk_: verifies v1a
)

// keyData is held behind a pointer so that fmt, when it prints a struct
// holding a Key, shows an address and never the bytes.
type keyData struct {
	kind   keyKind
	secret []byte             // kindSecret
	priv   ed25519.PrivateKey // kindSecretKey
	pub    ed25519.PublicKey  // kindSecretKey, kindPublicKey
}

// Key is one parsed Standard Webhooks key: a whsec_ shared secret (scheme
// v1), a whsk_ Ed25519 secret key (scheme v1a, signs) or a whpk_ Ed25519
// public key (scheme v1a, verifies only). Build one with [ParseKey]; the
// zero Key is invalid and refused by [NewSigner] and [NewVerifier].
//
// A Key never shows its material: String, GoString, Format (every verb)
// and LogValue print only its scheme and kind, so a Key in a log line, an
// error or a %+v dump of a config leaks nothing. Keys are immutable and
// safe to share.
type Key struct {
	d *keyData
}

// ParseKey parses a serialized key: "whsec_" followed by the standard
// base64 of a 24 to 64 byte secret, "whsk_" followed by the base64 of an
// Ed25519 secret key (its 32-byte seed, or the 64-byte seed and public key),
// or "whpk_" followed by the base64 of a 32-byte Ed25519 public key.
// Padding is optional. Surrounding spaces and line breaks, as left by
// environment files, are ignored.
//
// It returns an error saying what is wrong (unknown prefix, bad base64,
// wrong length); the error never contains any part of s.
func ParseKey(s string) (Key, error) {
	s = strings.TrimSpace(s)
	var kind keyKind
	var b64 string
	switch {
	case strings.HasPrefix(s, SecretPrefix):
		kind, b64 = kindSecret, s[len(SecretPrefix):]
	case strings.HasPrefix(s, SecretKeyPrefix):
		kind, b64 = kindSecretKey, s[len(SecretKeyPrefix):]
	case strings.HasPrefix(s, PublicKeyPrefix):
		kind, b64 = kindPublicKey, s[len(PublicKeyPrefix):]
	case s == "":
		return Key{}, errors.New("webhook: key is empty")
	default:
		return Key{}, errors.New("webhook: key does not start with " + SecretPrefix + ", " + SecretKeyPrefix + " or " + PublicKeyPrefix)
	}
	raw, err := decodeBase64(b64)
	if err != nil {
		return Key{}, fmt.Errorf("webhook: %s key is not valid base64", kind.prefix())
	}
	d := &keyData{kind: kind}
	switch kind {
	case kindSecret:
		if len(raw) < MinSecretBytes || len(raw) > MaxSecretBytes {
			return Key{}, fmt.Errorf("webhook: %s secret decodes to %d bytes; it must be %d to %d", SecretPrefix, len(raw), MinSecretBytes, MaxSecretBytes)
		}
		d.secret = raw
	case kindSecretKey:
		switch len(raw) {
		case ed25519.SeedSize:
			d.priv = ed25519.NewKeyFromSeed(raw)
		case ed25519.PrivateKeySize:
			d.priv = ed25519.NewKeyFromSeed(raw[:ed25519.SeedSize])
			if subtle.ConstantTimeCompare(d.priv[ed25519.SeedSize:], raw[ed25519.SeedSize:]) != 1 {
				return Key{}, errors.New("webhook: " + SecretKeyPrefix + " key's public half does not belong to its seed")
			}
		default:
			return Key{}, fmt.Errorf("webhook: %s key decodes to %d bytes; it must be %d (seed) or %d (seed and public key)", SecretKeyPrefix, len(raw), ed25519.SeedSize, ed25519.PrivateKeySize)
		}
		d.pub = d.priv.Public().(ed25519.PublicKey)
	case kindPublicKey:
		if len(raw) != ed25519.PublicKeySize {
			return Key{}, fmt.Errorf("webhook: %s key decodes to %d bytes; it must be %d", PublicKeyPrefix, len(raw), ed25519.PublicKeySize)
		}
		d.pub = raw
	}
	return Key{d: d}, nil
}

// decodeBase64 decodes standard base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.Strict().DecodeString(s)
	}
	return base64.RawStdEncoding.Strict().DecodeString(s)
}

// NewSecret returns a new random v1 secret in its serialized form:
// "whsec_" and the base64 of 32 random bytes. Store it as a secret and give
// it to the receiver.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// NewKeyPair returns a new random v1a key pair in its serialized form: the
// secret key ("whsk_" and the base64 of the 32-byte seed), which the sender
// keeps, and the public key ("whpk_"), which receivers verify with.
func NewKeyPair() (secretKey, publicKey string) {
	pub, priv, _ := ed25519.GenerateKey(nil) // never fails with crypto/rand
	return SecretKeyPrefix + base64.StdEncoding.EncodeToString(priv.Seed()),
		PublicKeyPrefix + base64.StdEncoding.EncodeToString(pub)
}

// Scheme returns the key's signature scheme, SchemeHMAC ("v1") or
// SchemeEd25519 ("v1a"); "" for the zero Key.
func (k Key) Scheme() string {
	if k.d == nil {
		return ""
	}
	if k.d.kind == kindSecret {
		return SchemeHMAC
	}
	return SchemeEd25519
}

// CanSign reports whether the key can sign: a whsec_ secret or a whsk_
// secret key. A whpk_ public key can only verify.
func (k Key) CanSign() bool {
	return k.d != nil && (k.d.kind == kindSecret || k.d.kind == kindSecretKey)
}

// PublicKey returns the serialized whpk_ public key of a v1a key (a whsk_
// secret key or a whpk_ public key), which is not secret and is what a
// receiver verifies with. It returns an error for a v1 secret, which has
// no public half, and for the zero Key.
func (k Key) PublicKey() (string, error) {
	if k.d == nil || k.d.pub == nil {
		return "", errors.New("webhook: only a v1a key (" + SecretKeyPrefix + " or " + PublicKeyPrefix + ") has a public key")
	}
	return PublicKeyPrefix + base64.StdEncoding.EncodeToString(k.d.pub), nil
}

// equal reports whether k and o are the same key material.
func (k Key) equal(o Key) bool {
	if k.d == nil || o.d == nil || k.Scheme() != o.Scheme() {
		return false
	}
	if k.d.kind == kindSecret {
		return bytes.Equal(k.d.secret, o.d.secret)
	}
	return bytes.Equal(k.d.pub, o.d.pub)
}

func (k keyKind) prefix() string {
	switch k {
	case kindSecret:
		return SecretPrefix
	case kindSecretKey:
		return SecretKeyPrefix
	}
	return PublicKeyPrefix
}

// String describes the key without its material, for example
// "webhook.Key(v1 secret, redacted)".
func (k Key) String() string {
	if k.d == nil {
		return "webhook.Key(zero)"
	}
	switch k.d.kind {
	case kindSecret:
		return "webhook.Key(v1 secret, redacted)"
	case kindSecretKey:
		return "webhook.Key(v1a secret key, redacted)"
	}
	return "webhook.Key(v1a public key, redacted)"
}

// GoString is String, so %#v redacts too.
func (k Key) GoString() string { return k.String() }

// Format prints String for every verb (%v, %+v, %#v, %s, %x, ...), quoted
// for %q, so no verb can reach the key's bytes.
func (k Key) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(k.String()))
		return
	}
	_, _ = io.WriteString(f, k.String())
}

// LogValue makes log/slog print String.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }
