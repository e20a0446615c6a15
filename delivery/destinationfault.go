package delivery

import (
	"net/http"
	"strings"

	"github.com/outbound-go/outbound/classify"
)

// DestinationFault reports whether err says nothing about the record and
// everything about the destination: the partner is unreachable (DNS,
// connection refused, unreachable network), its certificate or TLS setup is
// rejected, a proxy refuses, a gate or breaker holds it off (Unavailable),
// or it asks every caller to slow down (429, or 503 with Retry-After). A
// Dispatcher pauses the destination on such an outcome instead of spending
// the record's attempts or dead-lettering it. It is the default of
// DispatcherConfig.DestinationFault.
func DestinationFault(err error) bool {
	if err == nil {
		return false
	}
	switch status := classify.Status(err); {
	case status == http.StatusTooManyRequests:
		return true
	case status == http.StatusServiceUnavailable:
		_, ok := classify.RetryAfter(err)
		return ok
	case status != 0:
		return false // the partner answered: the answer is about the record
	}
	cause := classify.Cause(err)
	if classify.Of(err) == classify.ClassUnavailable {
		return cause != "canceled"
	}
	switch cause {
	case "dns", "conn_refused", "unreachable", "tls_cert", "tls":
		return true
	}
	return strings.HasPrefix(cause, "proxy")
}
