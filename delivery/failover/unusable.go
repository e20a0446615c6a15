package failover

import (
	"errors"
	"net"
	"strings"

	"github.com/outbound-go/outbound/classify"
)

// ChannelUnusable is the default Config.Unusable. It reports true for
// outcomes that say the channel cannot carry anything right now, and false
// for outcomes that say something about the message:
//
//   - Unavailable (a closed gate, an open breaker): true.
//   - Any outcome with an HTTP status: false. The partner answered; a 400
//     is the record's fault, and a 503 is for the channel's breaker to
//     judge, not for one message.
//   - Connection-level Ephemeral failures, where the request never reached
//     the partner: DNS failures, connection refused, reset or aborted,
//     unreachable hosts, any failed dial (dial timeouts included) and TLS
//     handshake timeouts: true.
//   - TLS failures (a rejected certificate, TLS to a plain HTTP port):
//     true, although their class is Permanent. They are the endpoint's
//     fault, not the record's, and another channel may well have a
//     valid certificate.
//   - Everything else, Permanent, Discard, Duplicate, a timeout waiting
//     for a response (the request may have been processed) and the
//     caller's own context ending: false.
func ChannelUnusable(err error) bool {
	if err == nil {
		return false
	}
	class := classify.Of(err)
	if class == classify.ClassUnavailable {
		return true
	}
	if classify.Status(err) != 0 {
		return false
	}
	cause := classify.Cause(err)
	switch class {
	case classify.ClassPermanent:
		return cause == "tls" || cause == "tls_cert"
	case classify.ClassEphemeral:
	default:
		return false
	}
	switch cause {
	case "dns", "conn_refused", "conn_reset", "conn_aborted", "unreachable":
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	// net/http's handshake timeout has no exported type.
	return cause == "timeout" && strings.Contains(err.Error(), "TLS handshake timeout")
}
