package health

import (
	"context"
	"errors"
	"fmt"

	"github.com/outbound-go/outbound/internal/nilcheck"
)

// GateConfig configures a [Gate]. At least one field must be set.
type GateConfig struct {
	// Monitor, if set, closes the gate while its destination is down, and
	// probes on demand when it has no fresh result (see [Monitor.Allow]).
	Monitor *Monitor
	// Breaker, if set, closes the gate while it refuses calls (open, or
	// half-open with its probe calls taken). The gate only peeks; calls
	// are still made through the breaker's own Allow.
	Breaker Breaker
}

// Gate decides whether work for one destination should go ahead, combining
// active health (a [Monitor]) and passive health (a [Breaker]). It is the
// shape a dispatcher's gate hook and delivery middleware take: anything
// with Allow(ctx) error. It is safe for concurrent use.
type Gate struct {
	monitor *Monitor
	breaker Breaker
}

// NewGate returns a gate for cfg. It returns an error when cfg sets
// neither Monitor nor Breaker, or sets Breaker to a nil pointer.
func NewGate(cfg GateConfig) (*Gate, error) {
	if cfg.Monitor == nil && cfg.Breaker == nil {
		return nil, errors.New("health: GateConfig needs a Monitor, a Breaker or both")
	}
	if nilcheck.Typed(cfg.Breaker) {
		return nil, fmt.Errorf("health: GateConfig.Breaker is a nil %T", cfg.Breaker)
	}
	return &Gate{monitor: cfg.Monitor, breaker: cfg.Breaker}, nil
}

// Allow returns nil when work may go ahead, and otherwise an error of class
// ClassUnavailable, carrying a classify.RetryAfter hint of when to look
// again, that matches ErrBreakerOpen or ErrDown. The breaker is asked
// first, since it answers without I/O. When the monitor's destination is
// up with a fresh result and the breaker is closed, Allow does not
// allocate. A destination never checked is probed once, on demand, bounded
// by ctx and the monitor's Timeout; its first result decides.
func (g *Gate) Allow(ctx context.Context) error {
	if g.breaker != nil {
		if err := g.breaker.Peek(); err != nil {
			return err
		}
	}
	if g.monitor != nil {
		return g.monitor.Allow(ctx)
	}
	return nil
}
