package deliverytest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/http"
	"strings"
	"time"
)

// Request is one request the partner received on its API (not on its health
// or token endpoints), and what it did with it. The Authorization header is
// not kept: Auth describes it without the secret.
type Request struct {
	// Seq is the request's 1-based arrival number among API requests.
	Seq int
	// Conn is the 1-based number of the connection that carried it, in the
	// order the partner accepted connections.
	Conn int
	// Received is when the request arrived (time.Now, so a
	// testing/synctest bubble's clock in a bubble).
	Received time.Time
	// Method, Path and Query are the request line's parts.
	Method, Path, Query string
	// Header is the request's header without Authorization and
	// Proxy-Authorization.
	Header http.Header
	// IdempotencyKey and CorrelationID are the values of the idempotency
	// and correlation headers ("" when absent).
	IdempotencyKey, CorrelationID string
	// Body is the request body.
	Body []byte
	// Auth describes the Authorization header.
	Auth Auth

	// Answer is what the partner decided to answer; Status is the status it
	// stands for (200 for a zero Answer.Status).
	Answer Response
	Status int
	// Outage reports that the request came during an outage and got the
	// outage answer.
	Outage bool
	// Flapped reports that flapping cut this request's connection
	// mid-response.
	Flapped bool
	// Unauthorized reports that the request was refused with 401 for a
	// missing or invalid token.
	Unauthorized bool
	// SignatureError says why PartnerConfig.Webhooks refused the request
	// with 401: the Verifier's error, or that it replays a webhook the
	// partner already processed. It is "" for a request that verified or
	// was not checked.
	SignatureError string
	// GaveUp reports that the client went away before the answer was given
	// (during Latency or Delay, or a FaultHang).
	GaveUp bool
	// Processed reports that the partner did the work (see
	// Partner.Processed).
	Processed bool
	// Finished is when the partner was done with the request; zero while it
	// is in progress.
	Finished time.Time
}

// Auth describes a request's Authorization header without revealing it.
type Auth struct {
	// Scheme is the header's scheme ("Bearer", "Basic"), or "" without an
	// Authorization header.
	Scheme string
	// Fingerprint is the first 12 hex digits of the SHA-256 of the
	// credentials: equal tokens have equal fingerprints, so a test can count
	// the distinct tokens used, and the value cannot be recovered from it.
	Fingerprint string
	// Valid reports that the partner's Issuer accepted the token. It is
	// always false without an Issuer.
	Valid bool
}

// String returns the scheme and fingerprint, e.g. "Bearer sha256:1a2b3c4d5e6f",
// or "none"; never the credentials.
func (a Auth) String() string {
	if a.Scheme == "" {
		return "none"
	}
	return a.Scheme + " sha256:" + a.Fingerprint
}

// parseAuth describes an Authorization header value and returns the bearer
// token for validation.
func parseAuth(value string) (Auth, string) {
	if value == "" {
		return Auth{}, ""
	}
	scheme, cred, _ := strings.Cut(value, " ")
	sum := sha256.Sum256([]byte(cred))
	a := Auth{Scheme: scheme, Fingerprint: hex.EncodeToString(sum[:6])}
	if !strings.EqualFold(scheme, "Bearer") {
		return a, ""
	}
	return a, cred
}

// withoutSecrets returns a copy of h without credentials.
func withoutSecrets(h http.Header) http.Header {
	out := h.Clone()
	out.Del("Authorization")
	out.Del("Proxy-Authorization")
	return out
}

// clone returns a deep copy of r safe to hand to callers.
func (r *Request) clone() Request {
	c := *r
	c.Header = r.Header.Clone()
	c.Body = bytes.Clone(r.Body)
	c.Answer.Header = maps.Clone(r.Answer.Header)
	return c
}
