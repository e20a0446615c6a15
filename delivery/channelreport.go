package delivery

import (
	"context"

	"github.com/outbound-go/outbound/internal/redact"
	"github.com/outbound-go/outbound/internal/text"
)

// MaxChannelText bounds Attempt.Channel: a channel's name, not a place for
// text. It is not counted by AttemptSize.
const MaxChannelText = 128

// ReportChannel tells the Dispatcher which channel carried the attempt
// that ctx belongs to, by name (a failover set's channel: "primary",
// "eu-west"). The Dispatcher keeps it as Attempt.Channel, redacted like
// Attempt.Error and cut to MaxChannelText bytes, so the record's history
// says which way each attempt went. Package delivery/failover reports the
// channel of every send; a Deliverer of another kind with several ways
// out calls it to the same end. Called several times for one attempt,
// the last call wins, so an outer Deliverer that reports after its inner
// one has the last word. Outside a Dispatcher's attempt (ctx carries no
// recorder) it does nothing.
func ReportChannel(ctx context.Context, name string) {
	r, _ := ctx.Value(responseKey{}).(*responseRecorder)
	if r == nil {
		return
	}
	name = text.Ellipsis(redact.Text(name), MaxChannelText)
	r.mu.Lock()
	r.channel = name
	r.mu.Unlock()
}
