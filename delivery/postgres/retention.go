package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/internal/nilcheck"
)

// Defaults for the zero values of RetentionConfig.
const (
	DefaultRetentionInterval  = 10 * time.Minute
	DefaultRetentionBatchSize = 1000
)

// Purger deletes old delivered and discarded records; delivery.Store's
// Purge, which *Store implements.
type Purger interface {
	Purge(ctx context.Context, before time.Time, limit int) (int, error)
}

// RetentionConfig configures a Retention.
type RetentionConfig struct {
	// Store is purged. Required; usually a *Store, but any Purger works.
	Store Purger
	// MaxAge is how long delivered and discarded records are kept after
	// their last update. Required (> 0). Dead records are never purged.
	MaxAge time.Duration
	// Interval is the time between purge rounds. Zero means ten minutes.
	Interval time.Duration
	// BatchSize bounds each DELETE, so a round over a large backlog takes
	// short locks in many small statements. Zero means 1000.
	BatchSize int
	// Now is the clock MaxAge is measured on. Nil means time.Now; use the
	// same clock as the store.
	Now func() time.Time
	// OnError, if set, is called with each failed round's error; the
	// Retention keeps going. Nil ignores errors.
	OnError func(error)
}

// Retention deletes delivered and discarded records older than MaxAge,
// periodically, in batches. Create it with NewRetention and run it with
// Run in a goroutine of its own.
type Retention struct {
	cfg RetentionConfig
}

// NewRetention validates cfg and returns a Retention. The error names the
// offending field.
func NewRetention(cfg RetentionConfig) (*Retention, error) {
	switch {
	case cfg.Store == nil:
		return nil, fmt.Errorf("%w: RetentionConfig.Store is required", ErrConfig)
	case nilcheck.Typed(cfg.Store):
		return nil, fmt.Errorf("%w: RetentionConfig.Store is a nil %T", ErrConfig, cfg.Store)
	case cfg.MaxAge <= 0:
		return nil, fmt.Errorf("%w: RetentionConfig.MaxAge %v must be positive", ErrConfig, cfg.MaxAge)
	case cfg.Interval < 0:
		return nil, fmt.Errorf("%w: RetentionConfig.Interval %v is negative", ErrConfig, cfg.Interval)
	case cfg.BatchSize < 0:
		return nil, fmt.Errorf("%w: RetentionConfig.BatchSize %d is negative", ErrConfig, cfg.BatchSize)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultRetentionInterval
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultRetentionBatchSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Retention{cfg: cfg}, nil
}

// PurgeOnce deletes, batch by batch, every delivered and discarded record
// last updated more than MaxAge ago, and returns how many it deleted. It
// stops early, returning the count so far and the error, when a batch
// fails or ctx ends.
func (r *Retention) PurgeOnce(ctx context.Context) (int, error) {
	before := r.cfg.Now().Add(-r.cfg.MaxAge)
	total := 0
	for {
		n, err := r.cfg.Store.Purge(ctx, before, r.cfg.BatchSize)
		total += n
		if err != nil {
			return total, err
		}
		if n < r.cfg.BatchSize {
			return total, nil
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// Run purges at once and then every Interval until ctx ends, and then
// returns nil, like delivery.Dispatcher.Run: ending ctx is how a Retention
// is stopped, not a failure. A round under way when ctx ends stops after
// its current batch statement, unreported. Failed rounds are reported to
// OnError and retried at the next interval; they do not end Run.
func (r *Retention) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := r.PurgeOnce(ctx); err != nil && ctx.Err() == nil && r.cfg.OnError != nil {
			r.cfg.OnError(fmt.Errorf("postgres: retention: %w", err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

var _ Purger = delivery.Store(nil)
