// Package resilient is an http.RoundTripper for code that only takes an
// *http.Client: generated OpenAPI clients, vendor SDKs, golang.org/x/oauth2
// and any library that calls client.Do itself. It gives their calls what
// the delivery pipeline gives a Deliverer, built from the same blocks:
// outcome classification with classify.HTTPRules, in-process retries on a
// retry.Policy with Retry-After honoured, a circuit breaker and a health
// gate per destination (the URL's host by default), rate limits, and
// bearer tokens from a tokencache.Cache.
//
//	client, err := resilient.NewClient(resilient.Config{
//		Rules: classify.HTTPRules{Statuses: map[int]classify.Class{
//			http.StatusLocked: classify.ClassEphemeral, // this partner's "busy, try again"
//		}},
//		HTTP: httpclient.Config{MaxConnsPerHost: 8},
//	})
//	if err != nil {
//		return err
//	}
//	api := partnersdk.New("https://partner.example", partnersdk.WithHTTPClient(client))
//
// # What is retried
//
// A request is retried only when sending it twice is safe: its method is
// idempotent (GET, HEAD, OPTIONS, TRACE, PUT, DELETE; see
// Config.RetryMethods) or it carries an Idempotency-Key header (see
// Config.IdempotencyHeader), and its body can be replayed (no body, or a
// GetBody function, which http.NewRequest sets for bytes, strings and
// bytes.Reader bodies). Any other request, a POST without a key or a
// streamed body, is sent once and its outcome returned as it is.
//
// Only Ephemeral outcomes are retried: transport failures such as
// connection resets and timeouts, and the statuses the rules class as
// Ephemeral (by default 408, 425, 429 and 5xx). The waits are the
// Policy's: its backoff, raised to the partner's Retry-After so that no
// retry is ever early, jitter included. A Retry-After longer than the
// Policy's MaxRetryAfter is not waited for in process: the response is
// returned at once, for the caller to decide. Every wait ends the moment
// the request's context does, and no wait starts that would outlast the
// context's deadline (http.Client.Timeout sets one). The body of every
// response that is retried is drained (up to Config.MaxDrain) and closed
// before the wait, so its connection goes back to the pool.
//
// # What the caller gets
//
// The final *http.Response exactly as the base transport returned it,
// whatever its status: a 404 or a 422 is a response for the SDK to parse
// into its own error, not an error of this package. When the retries run
// out on a retryable status (say a 503 each time), the last response is
// returned too, unread.
//
// An error is returned only when there is no response to hand back, and
// classify.Of understands it:
//
//   - the destination's gate is closed, its rate limit cannot be met
//     before the context's deadline, or its breaker is open: class
//     ClassUnavailable, matching health.ErrBreakerOpen or health.ErrDown
//     with errors.Is where those refused, with a classify.RetryAfter hint
//     where the refuser knows one. Nothing is sent, and a refusal is not
//     retried in process;
//   - the last attempt failed in the base transport: the class classify.Of
//     infers for that failure (a retry.AttemptsError says how many
//     attempts were made);
//   - the request's context ended.
//
// When an earlier attempt got a response, the error carries that
// response's status: classify.Status reports it (and classify.Cause then
// names it, "http_503", rather than the final failure).
//
// # Breakers and gates
//
// Each attempt goes through the destination's breaker (Config.Breakers;
// by default a set of the transport's own), which counts only Ephemeral
// outcomes: a storm of 4xx answers never opens it, a partner that is down
// does, and while it is open every call fails fast without sending
// anything. Config.Gates adds a health gate per destination, such as a
// health.Monitor's.
//
// # Redirects
//
// The transport sees each hop of a redirect as a request of its own;
// following them or not is the http.Client's business (its CheckRedirect),
// and NewClient keeps the redirect policy of the client httpclient.New
// builds. A 3xx that is not followed reaches the caller as a response.
package resilient
