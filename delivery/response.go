package delivery

import (
	"context"
	"sync"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/internal/redact"
	"github.com/outbound-go/outbound/internal/text"
)

// responseKey carries the attempt's response recorder in a context.
type responseKey struct{}

// responseRecorder keeps what a Deliverer reported about the partner's
// answer to one attempt. A Deliverer may report from several goroutines
// (a middleware that hedges); the last report wins.
type responseRecorder struct {
	mu     sync.Mutex
	status int
	body   string
	limit  classify.RateLimit // see ReportRateLimit
	hasLim bool
	// channel is what ReportChannel reported.
	channel string
}

// maxReportedBody bounds how much of a reported body is redacted: the
// redactor reads all it is given, and only MaxResponseText bytes of its
// result are kept.
const maxReportedBody = 4 * MaxResponseText

// ReportResponse tells the Dispatcher what the partner answered to the
// attempt that ctx belongs to: the HTTP status (0 for none) and the start
// of the response body. The Dispatcher keeps them on the attempt it stores
// (Attempt.Status when the outcome's error carries none, as on success,
// and Attempt.Response, body redacted and cut to MaxResponseText bytes),
// so what a partner answered a create with, such as the id of the new
// resource, can be read from Record.LastAttempt or an Observer's
// AttemptEvent. HTTPDeliverer reports every response; a Deliverer of
// another kind calls it to the same end. The body is copied, so the caller
// may reuse it. Called several times for one attempt, the last call wins.
// Outside a Dispatcher's attempt (ctx carries no recorder) it does
// nothing.
func ReportResponse(ctx context.Context, status int, body []byte) {
	r, _ := ctx.Value(responseKey{}).(*responseRecorder)
	if r == nil {
		return
	}
	snippet := text.Ellipsis(redact.Text(string(body[:min(len(body), maxReportedBody)])), MaxResponseText)
	r.mu.Lock()
	r.status, r.body = status, snippet
	r.mu.Unlock()
}

// RecordsResponse reports whether ctx belongs to an attempt that records
// the partner's answer (see ReportResponse), so a Deliverer reads a body
// it would otherwise skip only when someone keeps it.
func RecordsResponse(ctx context.Context) bool {
	r, _ := ctx.Value(responseKey{}).(*responseRecorder)
	return r != nil
}

// fill puts what was reported into a, the attempt built from the outcome:
// the status when the outcome's error carries none, the response and the
// channel (ReportChannel).
func (r *responseRecorder) fill(a *Attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if a.Status == 0 {
		a.Status = r.status
	}
	a.Response = r.body
	a.Channel = r.channel
}
