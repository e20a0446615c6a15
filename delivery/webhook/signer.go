package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DefaultIDHeader is the request header a Signer takes the webhook-id from
// when the request has none: the header httpdelivery.Deliverer sets to the
// message's idempotency key (or its ID), which stays the same across every
// retry of one record.
const DefaultIDHeader = "Idempotency-Key"

// ErrBodyNotReplayable means a request has a body but no GetBody, so the
// Signer cannot read the bytes it signs and still send them.
var ErrBodyNotReplayable = errors.New("webhook: request body cannot be re-read (GetBody is nil); build the request with a *bytes.Reader, *bytes.Buffer or *strings.Reader body, as http.NewRequest and httpdelivery.PostTo do")

// SignerConfig configures a Signer. Keys is required; every other field's
// zero value selects a default.
type SignerConfig struct {
	// Keys sign every webhook, each adding one entry to webhook-signature
	// in this order. Each must be able to sign: a whsec_ secret (v1) or a
	// whsk_ secret key (v1a), parsed with ParseKey. Several keys are how a
	// secret is rotated without a window where receivers reject: add the
	// new key next to the old one, move receivers to the new key, then
	// drop the old one.
	Keys []Key
	// Now is the clock that stamps webhook-timestamp. Nil means time.Now.
	Now func() time.Time
	// IDHeader names the request header the webhook-id is taken from when
	// the request has no webhook-id header of its own. Empty means
	// DefaultIDHeader; set it to match httpdelivery.Config.IdempotencyHeader
	// when that is changed.
	IDHeader string
}

// Signer signs webhooks as the Standard Webhooks specification describes:
// webhook-id, webhook-timestamp and webhook-signature over
// "id.timestamp.body". It is safe for concurrent use. Use it directly with
// Sign or SignRequest, or plug it into an http.Client with [Transport] so
// that every attempt is signed as it is sent.
type Signer struct {
	keys     []Key
	now      func() time.Time
	idHeader string
}

// NewSigner returns a Signer for cfg. It returns an error naming the field
// when cfg has no key, a zero Key, a key that cannot sign (a whpk_ public
// key), the same key twice, or an IDHeader that is not a header name. The
// error never contains key material.
func NewSigner(cfg SignerConfig) (*Signer, error) {
	if len(cfg.Keys) == 0 {
		return nil, errors.New("webhook: SignerConfig.Keys is empty; give at least one whsec_ or whsk_ key")
	}
	var errs []error
	for i, k := range cfg.Keys {
		switch {
		case k.d == nil:
			errs = append(errs, fmt.Errorf("webhook: SignerConfig.Keys[%d] is the zero Key; build keys with ParseKey", i))
		case !k.CanSign():
			errs = append(errs, fmt.Errorf("webhook: SignerConfig.Keys[%d] is a %s public key, which can only verify; sign with the %s secret key", i, PublicKeyPrefix, SecretKeyPrefix))
		default:
			for j := range i {
				if k.equal(cfg.Keys[j]) {
					errs = append(errs, fmt.Errorf("webhook: SignerConfig.Keys[%d] is the same key as Keys[%d]", i, j))
					break
				}
			}
		}
	}
	idHeader := cfg.IDHeader
	if idHeader == "" {
		idHeader = DefaultIDHeader
	}
	if !validHeaderName(idHeader) {
		errs = append(errs, fmt.Errorf("webhook: SignerConfig.IDHeader %q is not a valid header name", idHeader))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Signer{keys: append([]Key(nil), cfg.Keys...), now: now, idHeader: http.CanonicalHeaderKey(idHeader)}, nil
}

// Sign returns the webhook-signature header value for a webhook with the
// given id, timestamp (whole seconds; the fraction is dropped) and body:
// one "scheme,base64" entry per key, space-separated. It returns an error
// wrapping ErrInvalidID for an id that is empty, too long, or holds a full
// stop, a space or a control character.
func (s *Signer) Sign(id string, timestamp time.Time, body []byte) (string, error) {
	if err := s.check(); err != nil {
		return "", err
	}
	if err := checkID(id); err != nil {
		return "", err
	}
	return signatureHeader(s.keys, signedContent(id, strconv.FormatInt(timestamp.Unix(), 10), body)), nil
}

// SignRequest signs req for one attempt: it sets webhook-id, a fresh
// webhook-timestamp from the Signer's clock, and webhook-signature over
// exactly the body req will send, replacing any earlier signature.
//
// The id is req's own webhook-id header when set (an explicit id), or else
// the value of the IDHeader header (Idempotency-Key by default, which
// httpdelivery.Deliverer sets to the message's idempotency key or ID, so
// retries of one record share it).
//
// The body is read through req.GetBody, and req.Body is replaced by a
// reader of the bytes signed (the old body is closed), so the signature
// covers what is sent and the request stays replayable. SignRequest
// returns ErrBodyNotReplayable for a body without GetBody, an error
// wrapping ErrInvalidID when there is no usable id, and GetBody's own
// error if it fails; on error req is left unchanged.
//
// A webhook-id must be printable ASCII without spaces or full stops, at
// most MaxIDLength bytes (see ErrInvalidID). The ids delivery.NewID
// assigns qualify; for messages with other ids, set an IdempotencyKey that
// qualifies, or a webhook-id header of the message's own.
func (s *Signer) SignRequest(req *http.Request) error {
	if err := s.check(); err != nil {
		return err
	}
	if req == nil {
		return errors.New("webhook: SignRequest given a nil request")
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	id := req.Header.Get(HeaderID)
	if id == "" {
		id = req.Header.Get(s.idHeader)
	}
	if id == "" {
		return fmt.Errorf("webhook: request has neither a %s nor an %s header: %w", HeaderID, s.idHeader, ErrInvalidID)
	}
	if err := checkID(id); err != nil {
		return err
	}
	body, replaced, err := readBody(req)
	if err != nil {
		return err
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	sig := signatureHeader(s.keys, signedContent(id, ts, body))
	if replaced {
		old := req.Body
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		req.ContentLength = int64(len(body))
		_ = old.Close()
	}
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, sig)
	return nil
}

// readBody returns the bytes req sends, read through GetBody, and whether
// req has a body to replace.
func readBody(req *http.Request) ([]byte, bool, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, false, nil
	}
	if req.GetBody == nil {
		return nil, false, ErrBodyNotReplayable
	}
	rc, err := req.GetBody()
	if err != nil {
		return nil, false, fmt.Errorf("webhook: re-read request body: %w", err)
	}
	defer rc.Close()
	body, err := io.ReadAll(rc)
	if err != nil {
		return nil, false, fmt.Errorf("webhook: re-read request body: %w", err)
	}
	return body, true, nil
}

// check refuses a nil or zero Signer, which has no key to sign with.
func (s *Signer) check() error {
	if s == nil || len(s.keys) == 0 {
		return errors.New("webhook: Signer has no keys; build it with NewSigner")
	}
	return nil
}

// String describes the Signer without key material, for example
// "webhook.Signer(v1, v1a)".
func (s *Signer) String() string {
	if s == nil {
		return "webhook.Signer(nil)"
	}
	return "webhook.Signer(" + schemes(s.keys) + ")"
}

// GoString is String, so %#v redacts too.
func (s *Signer) GoString() string { return s.String() }

func schemes(keys []Key) string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.Scheme()
	}
	return strings.Join(names, ", ")
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x7f || c <= ' ' || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}
