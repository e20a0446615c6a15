package httpclient

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/internal/redact"
)

// ProxyError is the cause of an attempt that a proxy refused: a CONNECT
// answered with a status other than 200 (see CheckProxyConnect), or a 407
// Proxy Authentication Required on plain http. The request never reached
// the partner, so the record is not at fault: httpdelivery.Deliverer classifies the
// attempt as Unavailable, and classify.Cause names it "proxy_<status>"
// (for example "proxy_407"), apart from the partner's own answers.
type ProxyError struct {
	// Status is the proxy's status code.
	Status int
	// Proxy is the redacted proxy URL (see RedactURL), or "" when it is not
	// known (a 407 on plain http).
	Proxy string
}

// Error names the proxy's status and, when known, the redacted proxy.
func (e *ProxyError) Error() string {
	if e.Proxy == "" {
		return fmt.Sprintf("httpclient: the proxy refused the request with %d %s; the partner was not reached", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("httpclient: the proxy %s refused the request with %d %s; the partner was not reached", e.Proxy, e.Status, http.StatusText(e.Status))
}

// OutcomeCause names the cause for classify.Cause: "proxy_" and the status.
func (e *ProxyError) OutcomeCause() string { return "proxy_" + strconv.Itoa(e.Status) }

// CheckProxyConnect has the signature of http.Transport's
// OnProxyConnectResponse. For a CONNECT the proxy answered with a status
// other than 200 it returns an Unavailable error whose cause is a
// *ProxyError; net/http would otherwise report only the status text,
// which httpdelivery.Deliverer could not tell from a network failure. NewTransport
// sets it; set it on a transport of your own that goes through a proxy.
// It returns nil for a 200.
func CheckProxyConnect(_ context.Context, proxyURL *url.URL, _ *http.Request, resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	e := &ProxyError{Status: resp.StatusCode}
	if proxyURL != nil {
		e.Proxy = redact.URL(proxyURL.String())
	}
	return classify.Unavailable(e)
}
