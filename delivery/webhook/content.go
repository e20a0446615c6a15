package webhook

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// Header names of the Standard Webhooks specification. net/http
// canonicalizes them on the wire (Webhook-Id); header names are
// case-insensitive, so receivers in every language read them as the
// specification spells them.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// MaxIDLength bounds a webhook-id: it is an identifier, and a receiver
// stores it as an idempotency key.
const MaxIDLength = 256

// ErrInvalidID means a webhook-id is empty, longer than MaxIDLength, or
// holds a character outside printable ASCII, a space or a full stop.
var ErrInvalidID = errors.New("webhook: invalid webhook-id")

// checkID reports why id cannot be a webhook-id. The signed content is
// "id.timestamp.body": the specification asks that the id hold no full
// stop, so that no other (id, timestamp, body) split of the same bytes
// exists. Spaces and control characters are refused because the id travels
// in a header. The id is not quoted: it may come from an attacker.
func checkID(id string) *idErr {
	switch {
	case id == "":
		return idError("is empty")
	case len(id) > MaxIDLength:
		return idError("is longer than " + strconv.Itoa(MaxIDLength) + " bytes")
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c == '.':
			return idError("contains a full stop, which the specification forbids (it would make the signed content ambiguous)")
		case c <= ' ' || c >= 0x7f:
			return idError("contains a space, a control character or non-ASCII")
		}
	}
	return nil
}

func idError(why string) *idErr { return &idErr{why: why} }

// idErr is an invalid webhook-id; received says it came in a request, where
// it is also an ErrMalformedHeader.
type idErr struct {
	why      string
	received bool
}

func (e *idErr) Error() string {
	if e.received {
		return "webhook: malformed header: webhook-id " + e.why
	}
	return "webhook: webhook-id " + e.why
}

func (e *idErr) Unwrap() []error {
	if e.received {
		return []error{ErrInvalidID, ErrMalformedHeader}
	}
	return []error{ErrInvalidID}
}

// signedContent returns the bytes the specification signs:
// "id.timestamp.body".
func signedContent(id, ts string, body []byte) []byte {
	b := make([]byte, 0, len(id)+len(ts)+2+len(body))
	b = append(b, id...)
	b = append(b, '.')
	b = append(b, ts...)
	b = append(b, '.')
	return append(b, body...)
}

// macOf returns HMAC-SHA256(secret, content).
func macOf(secret, content []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(content)
	return m.Sum(nil)
}

// signatureHeader returns the webhook-signature value for content signed
// by every key in order, space-separated.
func signatureHeader(keys []Key, content []byte) string {
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(' ')
		}
		var sig []byte
		if k.d.kind == kindSecret {
			sig = macOf(k.d.secret, content)
		} else {
			sig = ed25519.Sign(k.d.priv, content)
		}
		sb.WriteString(k.Scheme())
		sb.WriteByte(',')
		sb.WriteString(base64.StdEncoding.EncodeToString(sig))
	}
	return sb.String()
}
