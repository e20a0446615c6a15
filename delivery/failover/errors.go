package failover

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/outbound-go/outbound/classify"
)

// ChannelError is an outcome of one channel. Every error Deliver returns
// is a *ChannelError or an *ExhaustedError holding them, so the text a
// dispatcher stores on a record and hands its Observer names the channel
// that failed. It unwraps to Err and keeps its class.
type ChannelError struct {
	// Channel names the channel.
	Channel string
	// Err is the channel's error.
	Err error
}

// Error returns `failover: channel "name": ` followed by the channel's
// error.
func (e *ChannelError) Error() string {
	return "failover: channel " + quote(e.Channel) + ": " + e.Err.Error()
}

// Unwrap returns Err.
func (e *ChannelError) Unwrap() error { return e.Err }

// ExhaustedError is the cause of a Deliver on which every channel was
// unusable. Deliver returns it marked Unavailable when no channel was
// tried (every gate and breaker refused; no attempt is spent, and the
// shortest Retry-After hint is kept) and Ephemeral when at least one send
// failed.
type ExhaustedError struct {
	// Failures holds each channel's error, in the order they were tried.
	Failures []*ChannelError
}

// Error lists every channel's failure.
func (e *ExhaustedError) Error() string {
	var b strings.Builder
	b.WriteString("failover: every channel is unusable: ")
	for i, f := range e.Failures {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(quote(f.Channel))
		b.WriteString(": ")
		b.WriteString(f.Err.Error())
	}
	return b.String()
}

// Unwrap returns the channels' errors.
func (e *ExhaustedError) Unwrap() []error {
	errs := make([]error, len(e.Failures))
	for i, f := range e.Failures {
		errs[i] = f
	}
	return errs
}

// exhausted builds Deliver's error when no channel took the message.
func exhausted(failures []*ChannelError) error {
	e := &ExhaustedError{Failures: failures}
	var hint time.Duration
	for _, f := range failures {
		if classify.Of(f.Err) != classify.ClassUnavailable {
			return classify.Ephemeral(e)
		}
		if d, ok := classify.RetryAfter(f.Err); ok && (hint == 0 || d < hint) {
			hint = d
		}
	}
	return classify.WithRetryAfter(classify.Unavailable(e), hint)
}

// ChannelOf returns the name of the channel err came from (the last one
// tried, for an *ExhaustedError), or "" if err did not come from a
// Failover.
func ChannelOf(err error) string {
	var ex *ExhaustedError
	if errors.As(err, &ex) && len(ex.Failures) > 0 {
		return ex.Failures[len(ex.Failures)-1].Channel
	}
	var ce *ChannelError
	if errors.As(err, &ce) {
		return ce.Channel
	}
	return ""
}

func quote(s string) string { return strconv.Quote(s) }
