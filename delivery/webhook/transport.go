package webhook

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/outbound-go/outbound/classify"
)

// Transport is an http.RoundTripper that signs every request it sends with
// a Signer, then hands it to Base. Plugged into the client of a
// httpdelivery.Deliverer, it signs each attempt as it is sent: every retry
// of a record gets the same webhook-id (the record's idempotency key) and a
// fresh webhook-timestamp and webhook-signature.
//
//	client, _ := httpclient.New(httpclient.Config{BlockPrivateAddresses: true})
//	client.Transport = &webhook.Transport{Base: client.Transport, Signer: signer}
//	send, _ := httpdelivery.New(httpdelivery.Config{Client: client, Build: httpdelivery.PostTo(url, "application/json")})
//
// For per-destination secrets set SignerFor instead of Signer (one shared
// Transport, so connections are pooled across destinations), or give each
// destination its own client around the same Base.
//
// A request that cannot be signed (no id, an id the specification does not
// allow such as one with a full stop, a body without GetBody, no signer for
// its destination; see Signer.SignRequest) is not sent: RoundTrip returns
// a classify.Permanent error, since resending it would fail the same way.
// The original request is never modified; a clone is signed. Transport is
// safe for concurrent use.
type Transport struct {
	// Base sends the signed requests. Nil means http.DefaultTransport.
	Base http.RoundTripper
	// Signer signs every request, unless SignerFor is set.
	Signer *Signer
	// SignerFor, if set, picks the Signer for each request, typically by
	// req.URL.Host from a map the application keeps, so that each
	// destination has its own secret. An error it returns, or a nil
	// Signer, refuses the request (Permanent unless the error already has
	// a class).
	SignerFor func(req *http.Request) (*Signer, error)
}

// RoundTrip signs a clone of req for this attempt and sends it through
// Base. It returns Base's response and error, or a classified error and no
// response when the request cannot be signed; req.Body is closed either
// way, as the RoundTripper contract requires.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	signer, err := t.signerFor(req)
	if err == nil {
		signed := req.Clone(req.Context())
		if err = signer.SignRequest(signed); err == nil {
			return t.base().RoundTrip(signed)
		}
		if !hasClass(err) {
			err = classify.Permanent(err)
		}
	}
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return nil, err
}

func (t *Transport) signerFor(req *http.Request) (*Signer, error) {
	if t.SignerFor == nil {
		if t.Signer == nil {
			return nil, classify.Permanent(errors.New("webhook: Transport has neither Signer nor SignerFor"))
		}
		return t.Signer, nil
	}
	s, err := t.SignerFor(req)
	switch {
	case err != nil:
		if hasClass(err) {
			return nil, err
		}
		return nil, classify.Permanent(fmt.Errorf("webhook: no signer for the request: %w", err))
	case s == nil:
		return nil, classify.Permanent(errors.New("webhook: SignerFor returned no signer for the request"))
	}
	return s, nil
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

// CloseIdleConnections closes Base's idle connections, if Base can, so that
// http.Client.CloseIdleConnections reaches through the Transport.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func hasClass(err error) bool {
	var ce *classify.Error
	return errors.As(err, &ce)
}
