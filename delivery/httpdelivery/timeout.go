package httpdelivery

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"
)

// clientTimeout is the client's Timeout, which Deliver enforces as the
// deadline of the request's context (and so of redirects and the body
// read, as http.Client does). It is the cause of that context when the
// deadline passes, and the error a transport error is then reported as.
type clientTimeout struct{ d time.Duration }

func (e *clientTimeout) Error() string {
	return fmt.Sprintf("httpdelivery: Client.Timeout of %v exceeded", e.d)
}

// Timeout reports true: it is a timeout, as net.Error says so.
func (e *clientTimeout) Timeout() bool { return true }

// Temporary reports true, as net/http's own Client.Timeout error does.
func (e *clientTimeout) Temporary() bool { return true }

// Is makes errors.Is(err, context.DeadlineExceeded) hold, as it does for
// net/http's Client.Timeout error.
func (e *clientTimeout) Is(target error) bool { return target == context.DeadlineExceeded }

// timedOut returns err, from a request made with ctx, with the context's
// own error replaced by d.timeout when it was the client's Timeout that
// ended the request rather than the caller's context.
func (d *Deliverer) timedOut(ctx context.Context, err error) error {
	if d.timeout == nil || context.Cause(ctx) != error(d.timeout) {
		return err
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.Err = d.timeout
		return ue
	}
	return fmt.Errorf("%w: %w", d.timeout, err)
}

// endsWithin reports whether ctx has a deadline at most d from now.
func endsWithin(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) <= d
}
