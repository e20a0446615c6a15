package failover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/health"
	"github.com/outbound-go/outbound/internal/defaults"
)

// Defaults of Config.
const (
	// DefaultReturnChecks is how many health checks in a row a
	// higher-priority channel must pass before traffic returns to it.
	DefaultReturnChecks = 3
	// DefaultReturnHold is how long a higher-priority channel must have
	// been seen up, without a failed check, before traffic returns to it.
	DefaultReturnHold = 30 * time.Second
	// DefaultCheckInterval is how often the set looks at a channel it has
	// left.
	DefaultCheckInterval = time.Second
)

// Channel is one way to deliver a message: a second region, a backup
// endpoint, another provider.
type Channel struct {
	// Name names the channel in errors, switches and hooks ("primary",
	// "eu-west", "backup-provider"). Names must be unique and non-empty;
	// keep them low-cardinality, they make good metric labels.
	Name string
	// Deliverer sends on this channel. Required.
	Deliverer delivery.Deliverer
	// Gate, if set, is asked before every send on this channel (a refusal
	// moves the message to the next channel) and is the health check the
	// set uses to decide when to return to the channel after leaving it.
	// A *health.Gate with a Monitor is the usual choice.
	Gate delivery.Gate
	// Breaker, if set, guards every send on this channel (see
	// delivery.WithBreaker) and is peeked by the set's health checks. An
	// open breaker moves messages to the next channel.
	Breaker health.Breaker
}

// Config configures a Failover. Zero values select the documented
// defaults.
type Config struct {
	// Name names the set in Switch events (for example the destination
	// it serves). Optional.
	Name string
	// Channels lists the channels in priority order: the first is the
	// primary. At least one is required.
	Channels []Channel
	// ReturnChecks is how many of the set's health checks in a row a
	// channel must pass before traffic returns to it. Zero means
	// DefaultReturnChecks (3).
	ReturnChecks int
	// ReturnHold is how long a channel must have been seen up, from its
	// first passed check after it was left, before traffic returns to it.
	// Both ReturnChecks and ReturnHold must be met. Zero means
	// DefaultReturnHold (30s). It bounds how often the set can switch:
	// see the package documentation.
	ReturnHold time.Duration
	// CheckInterval is how often the set checks a channel it has left:
	// checks run on the Deliver path (no goroutine), at most once per
	// interval per channel. Zero means DefaultCheckInterval (1s).
	CheckInterval time.Duration
	// Unusable reports whether an error a channel returned means the
	// channel, not the message, is at fault, so the message moves to the
	// next channel. Nil means ChannelUnusable.
	Unusable func(err error) bool
	// OnSwitch, if set, is called on every change of the active channel,
	// synchronously, one call at a time, in order. It must be quick and
	// must not call the Failover.
	OnSwitch func(Switch)
	// OnSend, if set, is called after every send on a channel, with the
	// message and the channel's outcome (nil for success), from the
	// goroutine that called Deliver. It is how metrics and logs learn
	// which channel carried a delivered message: a success returns nil,
	// which has no room for a channel name.
	OnSend func(ctx context.Context, s Send)
}

func (c Config) withDefaults() (Config, error) {
	var errs []error
	if len(c.Channels) == 0 {
		errs = append(errs, errors.New("failover: Config.Channels needs at least one channel"))
	}
	seen := make(map[string]bool, len(c.Channels))
	for i, ch := range c.Channels {
		switch {
		case ch.Name == "":
			errs = append(errs, fmt.Errorf("failover: Config.Channels[%d].Name is empty", i))
		case seen[ch.Name]:
			errs = append(errs, fmt.Errorf("failover: Config.Channels[%d].Name %q is used twice", i, ch.Name))
		}
		seen[ch.Name] = true
		if ch.Deliverer == nil {
			errs = append(errs, fmt.Errorf("failover: Config.Channels[%d] (%q) has no Deliverer", i, ch.Name))
		}
	}
	if c.ReturnChecks < 0 {
		errs = append(errs, fmt.Errorf("failover: Config.ReturnChecks must not be negative, got %d", c.ReturnChecks))
	}
	if c.ReturnHold < 0 {
		errs = append(errs, fmt.Errorf("failover: Config.ReturnHold must not be negative, got %v", c.ReturnHold))
	}
	if c.CheckInterval < 0 {
		errs = append(errs, fmt.Errorf("failover: Config.CheckInterval must not be negative, got %v", c.CheckInterval))
	}
	if err := errors.Join(errs...); err != nil {
		return c, err
	}
	defaults.Set(&c.ReturnChecks, DefaultReturnChecks)
	defaults.Set(&c.ReturnHold, DefaultReturnHold)
	defaults.Set(&c.CheckInterval, DefaultCheckInterval)
	if c.Unusable == nil {
		c.Unusable = ChannelUnusable
	}
	return c, nil
}
