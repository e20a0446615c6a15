package delivery

import (
	"context"

	"github.com/outbound-go/outbound/classify"
)

// ReportRateLimit tells the Dispatcher what the partner said about its
// rate limit in its answer to the attempt that ctx belongs to (read with
// classify.ParseRateLimit): a destination with a Rate learns from it (see
// DestinationConfig.Rate): a policy (Quota per Window) or a remaining
// quota (Remaining until Reset) under the rate in force lowers the
// fleet's rate, and a Remaining of 0 with a Reset pauses the destination
// until then. HTTPDeliverer reports every response's
// headers; a Deliverer of another kind calls it to the same end. Called
// several times for one attempt, the last call wins. Outside a
// Dispatcher's attempt (ctx carries no recorder) it does nothing.
func ReportRateLimit(ctx context.Context, l classify.RateLimit) {
	r, _ := ctx.Value(responseKey{}).(*responseRecorder)
	if r == nil {
		return
	}
	r.mu.Lock()
	r.limit, r.hasLim = l, true
	r.mu.Unlock()
}

// rateLimit returns what the Deliverer reported with ReportRateLimit.
func (r *responseRecorder) rateLimit() (classify.RateLimit, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.limit, r.hasLim
}
