package otel

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/internal/nilcheck"
)

// ScopeName is the instrumentation scope of the tracer and the meter this
// package uses.
const ScopeName = "github.com/outbound-go/outbound/delivery/otel"

// DefaultStatsTimeout bounds each Store.Stats query of the queue metrics.
const DefaultStatsTimeout = 5 * time.Second

// DefaultDurationBuckets are the bucket bounds, in seconds, of the attempt
// duration histogram: from 5ms to the dispatcher's default 30s attempt
// timeout.
var DefaultDurationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Config configures an Observer. Every field's zero value selects a
// documented default.
type Config struct {
	// TracerProvider makes the attempt spans. Nil means the global one
	// (otel.GetTracerProvider), read when NewObserver is called.
	TracerProvider trace.TracerProvider
	// MeterProvider makes the metrics. Nil means the global one
	// (otel.GetMeterProvider), read when NewObserver is called.
	MeterProvider metric.MeterProvider
	// JoinTrace makes each attempt span a child of the enqueuing span (and
	// still linked to it), so that the request that enqueued a record and
	// every attempt to deliver it are one trace, as the messaging
	// conventions allow for a message processed on its own. By default an
	// attempt span is the root of a trace of its own with a link to the
	// enqueuing span: an attempt may come hours or days after the request,
	// past a tracing backend's trace window, and a request's trace should
	// not grow with every retry. Set JoinTrace when records are delivered
	// within seconds and one trace per request is what your tools show best.
	JoinTrace bool
	// Store, if set, is asked for Stats whenever the metrics are
	// collected, for the queue metrics (outbound.records by state,
	// outbound.queue.oldest_pending.age, outbound.queue.oldest_due.age).
	// Nil reports none.
	Store delivery.Store
	// StatsTimeout bounds each Store.Stats query. Zero means
	// DefaultStatsTimeout (5s).
	StatsTimeout time.Duration
	// DurationBuckets are the bucket bounds, in seconds, of the
	// outbound.attempt.duration histogram. Nil means
	// DefaultDurationBuckets.
	DurationBuckets []float64
}

// validated returns cfg with its defaults, or an error naming every
// invalid field.
func (c Config) validated() (Config, error) {
	var errs []error
	for _, f := range [...]struct {
		name string
		v    any
	}{{"TracerProvider", c.TracerProvider}, {"MeterProvider", c.MeterProvider}, {"Store", c.Store}} {
		if nilcheck.Typed(f.v) {
			errs = append(errs, fmt.Errorf("otel: Config.%s is a nil %T: set it to a usable value or leave it unset", f.name, f.v))
		}
	}
	if c.StatsTimeout < 0 {
		errs = append(errs, fmt.Errorf("otel: Config.StatsTimeout must not be negative, got %v", c.StatsTimeout))
	}
	for i, b := range c.DurationBuckets {
		if b <= 0 || i > 0 && b <= c.DurationBuckets[i-1] {
			errs = append(errs, fmt.Errorf("otel: Config.DurationBuckets must be positive and increasing, got %v", c.DurationBuckets))
			break
		}
	}
	if c.StatsTimeout == 0 {
		c.StatsTimeout = DefaultStatsTimeout
	}
	if c.DurationBuckets == nil {
		c.DurationBuckets = DefaultDurationBuckets
	}
	return c, errors.Join(errs...)
}
