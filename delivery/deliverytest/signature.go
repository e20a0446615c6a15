package deliverytest

import (
	"net/http"

	"github.com/outbound-go/outbound/delivery/webhook"
)

// invalidSignature is the answer to a webhook that does not verify or
// replays one already processed.
var invalidSignature = Response{
	Status: http.StatusUnauthorized,
	Body:   `{"error":"invalid_signature"}`,
}

// checkSignature verifies req with PartnerConfig.Webhooks and refuses a
// replay of a processed webhook. It reports the answer and true when req
// is refused, and records why on req.
func (p *Partner) checkSignature(req *Request) (Response, bool) {
	err := p.cfg.Webhooks.Verify(req.Header, req.Body)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err != nil:
		req.SignatureError = err.Error()
		p.stats.InvalidSignatures++
	case p.signed[signedKey(req.Header)]:
		req.SignatureError = "deliverytest: replay: the partner already processed a webhook with this " +
			webhook.HeaderID + ", " + webhook.HeaderTimestamp + " and " + webhook.HeaderSignature
		p.stats.Replays++
	default:
		return Response{}, false
	}
	return invalidSignature, true
}

// signedKey identifies one signed webhook attempt: its id, timestamp and
// signature.
func signedKey(h http.Header) string {
	return h.Get(webhook.HeaderID) + "\x00" + h.Get(webhook.HeaderTimestamp) + "\x00" + h.Get(webhook.HeaderSignature)
}
