package failures

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/internal/defaults"
)

// Defaults of Config.
const (
	DefaultResolution = time.Minute
	DefaultHistory    = time.Hour
	DefaultMaxKeys    = 1000
	// maxFailureBuckets bounds History/Resolution, and so the memory
	// a Tracker holds per key.
	maxFailureBuckets = 10_000
)

// Other is the Destination and Cause under which a Tracker counts
// outcomes once it holds Config.MaxKeys distinct keys. The class of
// such outcomes is kept.
const Other = "_other"

// Config configures a Tracker. The zero value is usable: one-minute
// buckets kept for an hour, at most 1,000 keys.
type Config struct {
	// Resolution is the width of the time buckets that Last and Surges add
	// up: windows are rounded up to whole buckets. Zero means
	// DefaultFailureResolution (1 minute).
	Resolution time.Duration
	// History is how far back Last and Surges can look. Zero means
	// DefaultFailureHistory (1 hour). It must be at least Resolution and at
	// most 10,000 Resolutions.
	History time.Duration
	// MaxKeys bounds the distinct (destination, class, cause) keys counted.
	// Outcomes with a new key beyond it are counted under destination and
	// cause Other, keeping their class, so memory stays bounded
	// whatever the destinations and errors. Zero means
	// DefaultFailureMaxKeys (1,000).
	MaxKeys int
}

// Key identifies a group of counted outcomes.
type Key struct {
	// Destination is Message.Destination ("" when the message has none).
	Destination string
	// Class is the outcome class.
	Class classify.Class
	// Cause is classify.Cause of the outcome's error: "ok", "timeout",
	// "conn_reset", "http_503", ...
	Cause string
}

// Tracker counts what happened to claimed records by destination, class
// and cause, in memory, without Prometheus: in total since it was created,
// and in time buckets over a rolling History, so that a program can watch
// the rate of each kind of failure and act on a change of rate instead of on
// each error (most errors recover on their own and should be counted, not
// reported one by one).
//
// It is a delivery.Observer: put it in delivery.DispatcherConfig.Observer (with delivery.Observers to
// combine it with others). It counts every outcome, successes included, so
// that ratios can be computed; records released at shutdown without an
// attempt are not counted. Outcomes that were deferred because the
// destination was unavailable are counted under ClassUnavailable. A
// Tracker is safe for concurrent use; counting takes a mutex and does not
// allocate once a key has been seen.
type Tracker struct {
	res     time.Duration
	slots   int64
	maxKeys int
	created time.Time

	mu     sync.Mutex
	ids    map[Key]int
	keys   []Key
	totals []int64
	ring   [][]int64 // ring[slot][id]: counts of one bucket
	stamp  []int64   // the bucket number ring[slot] holds; -1 when empty
}

// New returns an empty Tracker for cfg. It returns an error naming
// the field when cfg is invalid.
func New(cfg Config) (*Tracker, error) {
	var errs []error
	if cfg.Resolution < 0 {
		errs = append(errs, fmt.Errorf("failures: Config.Resolution must not be negative, got %v", cfg.Resolution))
	}
	if cfg.History < 0 {
		errs = append(errs, fmt.Errorf("failures: Config.History must not be negative, got %v", cfg.History))
	}
	if cfg.MaxKeys < 0 {
		errs = append(errs, fmt.Errorf("failures: Config.MaxKeys must not be negative, got %d", cfg.MaxKeys))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	defaults.Set(&cfg.Resolution, DefaultResolution)
	defaults.Set(&cfg.History, DefaultHistory)
	defaults.Set(&cfg.MaxKeys, DefaultMaxKeys)
	if cfg.History < cfg.Resolution {
		return nil, fmt.Errorf("failures: Config.History (%v) must be at least Resolution (%v)", cfg.History, cfg.Resolution)
	}
	slots := ceilDiv(cfg.History, cfg.Resolution)
	if slots > maxFailureBuckets {
		return nil, fmt.Errorf("failures: Config.History (%v) must be at most %d Resolutions (%v)", cfg.History, maxFailureBuckets, cfg.Resolution)
	}
	f := &Tracker{
		res:     cfg.Resolution,
		slots:   slots,
		maxKeys: cfg.MaxKeys,
		created: time.Now(),
		ids:     make(map[Key]int),
		ring:    make([][]int64, slots),
		stamp:   make([]int64, slots),
	}
	for i := range f.stamp {
		f.stamp[i] = -1
	}
	return f, nil
}

// ObserveAttempt counts e under its destination, class and cause, unless
// the record was released without an attempt.
func (f *Tracker) ObserveAttempt(_ context.Context, e delivery.AttemptEvent) {
	if e.Action == delivery.ActionRelease {
		return
	}
	cause := e.Cause
	if cause == "" {
		cause = classify.Cause(e.Err)
	}
	f.Add(Key{Destination: e.Record.Destination, Class: e.Attempt.Class, Cause: cause}, 1)
}

// ObserveRun does nothing: a Tracker counts attempts.
func (f *Tracker) ObserveRun(context.Context, delivery.Report) {}

// Add counts n outcomes under k now. ObserveAttempt calls it; call it
// directly to count outcomes of deliveries made without a Dispatcher (for
// example around a Deliverer used in a request handler). n <= 0 does
// nothing.
func (f *Tracker) Add(k Key, n int64) {
	if n <= 0 {
		return
	}
	b := f.bucket(time.Now())
	f.mu.Lock()
	defer f.mu.Unlock()
	id, ok := f.ids[k]
	if !ok {
		if len(f.keys) >= f.maxKeys {
			k = Key{Destination: Other, Class: k.Class, Cause: Other}
			id, ok = f.ids[k]
		}
		if !ok {
			id = len(f.keys)
			f.ids[k] = id
			f.keys = append(f.keys, k)
			f.totals = append(f.totals, 0)
		}
	}
	f.totals[id] += n
	slot := b % f.slots
	if f.stamp[slot] != b {
		clear(f.ring[slot])
		f.stamp[slot] = b
	}
	if id >= len(f.ring[slot]) {
		f.ring[slot] = append(f.ring[slot], make([]int64, len(f.keys)-len(f.ring[slot]))...)
	}
	f.ring[slot][id] += n
}

// bucket returns the number of the bucket holding t. Buckets count from the
// creation of f, on the monotonic clock.
func (f *Tracker) bucket(t time.Time) int64 { return int64(t.Sub(f.created) / f.res) }

// bucketStart returns when bucket b began, no earlier than f's creation.
func (f *Tracker) bucketStart(b int64) time.Time {
	if b <= 0 {
		return f.created
	}
	return f.created.Add(time.Duration(b) * f.res)
}

// Totals returns every outcome counted since f was created.
func (f *Tracker) Totals() Counts {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	c := Counts{Since: f.created, Until: now, Counts: make(map[Key]int64, len(f.keys))}
	for id, n := range f.totals {
		if n != 0 {
			c.Counts[f.keys[id]] = n
		}
	}
	return c
}

// Last returns the outcomes counted in the latest d, rounded up to whole
// buckets (the current one included) and capped at History. Since is the
// start of the oldest bucket included, or the creation of f if later. d <= 0
// returns the current bucket.
func (f *Tracker) Last(d time.Duration) Counts {
	now := time.Now()
	b := f.bucket(now)
	n := f.bucketsIn(d)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sumLocked(b-n+1, b, now)
}

// bucketsIn returns how many buckets cover d: at least 1, at most slots.
func (f *Tracker) bucketsIn(d time.Duration) int64 {
	if d <= 0 {
		return 1
	}
	return min(ceilDiv(d, f.res), f.slots)
}

// ceilDiv returns d/res rounded up, for positive d and res, without the
// overflow of (d+res-1)/res near the largest Duration.
func ceilDiv(d, res time.Duration) int64 {
	n := int64(d / res)
	if d%res != 0 {
		n++
	}
	return n
}

// sumLocked adds up buckets from through to (inclusive); until is the end
// of the period reported.
func (f *Tracker) sumLocked(from, to int64, until time.Time) Counts {
	from = max(from, 0, to-f.slots+1)
	c := Counts{Since: f.bucketStart(from), Until: until, Counts: make(map[Key]int64)}
	if to < from {
		c.Until = c.Since
		return c
	}
	for b := from; b <= to; b++ {
		slot := b % f.slots
		if f.stamp[slot] != b {
			continue
		}
		for id, n := range f.ring[slot] {
			if n != 0 {
				c.Counts[f.keys[id]] += n
			}
		}
	}
	return c
}

// defaultSurgeClasses are the classes SurgeRule watches when its Classes
// field is empty: the failures that consume attempts.
var defaultSurgeClasses = []classify.Class{classify.ClassEphemeral, classify.ClassPermanent, classify.ClassDiscard}

// SurgeRule says when a rise in failures is worth attention. Zero fields
// take the documented defaults.
type SurgeRule struct {
	// Recent is the window whose rate is compared. Zero means 5 minutes.
	Recent time.Duration
	// Baseline is the window before Recent that sets the usual rate. Zero
	// means the rest of History.
	Baseline time.Duration
	// Factor is how many times its baseline rate a key's recent rate must
	// reach. Zero means 3.
	Factor float64
	// Min is how many failures a key needs in the recent window before it
	// can surge, so a single error after a quiet hour does not. Zero means
	// 10.
	Min int64
	// Classes are the classes watched. Empty means Ephemeral, Permanent and
	// Discard: the failures that consume attempts.
	Classes []classify.Class
}

// Surge is a key whose failures rose: see Tracker.Surges.
type Surge struct {
	// Key is the destination, class and cause that rose.
	Key Key
	// Recent counts its outcomes in the recent window; Baseline in the
	// baseline window.
	Recent, Baseline int64
	// RecentRate and BaselineRate are those counts per minute.
	RecentRate, BaselineRate float64
}

// Surges returns the keys whose failure rate over the latest rule.Recent is
// at least rule.Factor times their rate over the rule.Baseline before it,
// with at least rule.Min failures in the recent window, largest recent
// count first. A key with no baseline failures surges once it reaches Min.
// Windows are rounded up to whole buckets, and the baseline is cut to what
// History (and the age of f) holds. Call it on a ticker and alert on a
// non-empty result: it answers "did something change?", not "did something
// fail?". It returns an error naming the field when rule is invalid.
func (f *Tracker) Surges(rule SurgeRule) ([]Surge, error) {
	for _, fld := range [...]struct {
		name     string
		negative bool
	}{{"Recent", rule.Recent < 0}, {"Baseline", rule.Baseline < 0}, {"Factor", rule.Factor < 0}, {"Min", rule.Min < 0}} {
		if fld.negative {
			return nil, fmt.Errorf("failures: SurgeRule.%s must not be negative", fld.name)
		}
	}
	if math.IsNaN(rule.Factor) || math.IsInf(rule.Factor, 0) {
		return nil, fmt.Errorf("failures: SurgeRule.Factor must be a finite number, got %v", rule.Factor)
	}
	defaults.Set(&rule.Recent, 5*time.Minute)
	if rule.Factor == 0 {
		rule.Factor = 3
	}
	if rule.Min == 0 {
		rule.Min = 10
	}
	classes := rule.Classes
	if len(classes) == 0 {
		classes = defaultSurgeClasses
	}
	var watched [len(classify.Classes)]bool
	for _, c := range classes {
		if !c.Valid() {
			return nil, fmt.Errorf("failures: SurgeRule.Classes holds undefined class %d", uint8(c))
		}
		watched[c] = true
	}

	now := time.Now()
	b := f.bucket(now)
	nRecent := f.bucketsIn(rule.Recent)
	nBase := f.slots - nRecent
	if rule.Baseline > 0 {
		nBase = min(nBase, ceilDiv(rule.Baseline, f.res))
	}
	f.mu.Lock()
	recent := f.sumLocked(b-nRecent+1, b, now)
	base := f.sumLocked(b-nRecent-nBase+1, b-nRecent, recent.Since)
	f.mu.Unlock()

	recentMin := now.Sub(recent.Since).Minutes()
	baseMin := base.Until.Sub(base.Since).Minutes()
	var out []Surge
	for k, n := range recent.Counts {
		if !k.Class.Valid() || !watched[k.Class] || n < rule.Min {
			continue
		}
		s := Surge{Key: k, Recent: n, Baseline: base.Counts[k]}
		if recentMin > 0 {
			s.RecentRate = float64(n) / recentMin
		}
		if baseMin > 0 {
			s.BaselineRate = float64(s.Baseline) / baseMin
		}
		if s.Baseline == 0 || s.RecentRate >= rule.Factor*s.BaselineRate {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Recent != out[j].Recent {
			return out[i].Recent > out[j].Recent
		}
		return out[i].Key.less(out[j].Key)
	})
	return out, nil
}

func (k Key) less(o Key) bool {
	if k.Destination != o.Destination {
		return k.Destination < o.Destination
	}
	if k.Class != o.Class {
		return k.Class < o.Class
	}
	return k.Cause < o.Cause
}

// Counts is a set of counted outcomes over a period.
type Counts struct {
	// Since and Until bound the period counted.
	Since, Until time.Time
	// Counts holds the non-zero counts by key.
	Counts map[Key]int64
}

// Total returns how many outcomes were counted.
func (c Counts) Total() int64 {
	var n int64
	for _, v := range c.Counts {
		n += v
	}
	return n
}

// Failed returns how many outcomes consumed an attempt without delivering:
// classes Ephemeral, Permanent and Discard.
func (c Counts) Failed() int64 {
	var n int64
	for k, v := range c.Counts {
		if k.Class.CountsAttempt() && !k.Class.Delivered() {
			n += v
		}
	}
	return n
}

// Class returns how many outcomes were of class cl.
func (c Counts) Class(cl classify.Class) int64 {
	var n int64
	for k, v := range c.Counts {
		if k.Class == cl {
			n += v
		}
	}
	return n
}

// Cause returns how many outcomes had the given cause ("timeout",
// "http_503", ...).
func (c Counts) Cause(cause string) int64 {
	var n int64
	for k, v := range c.Counts {
		if k.Cause == cause {
			n += v
		}
	}
	return n
}

// Destination returns the counts of one destination over the same period.
func (c Counts) Destination(d string) Counts {
	out := Counts{Since: c.Since, Until: c.Until, Counts: make(map[Key]int64)}
	for k, v := range c.Counts {
		if k.Destination == d {
			out.Counts[k] = v
		}
	}
	return out
}

// Keys returns the counted keys in a stable order: by destination, class,
// then cause.
func (c Counts) Keys() []Key {
	keys := make([]Key, 0, len(c.Counts))
	for k := range c.Counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].less(keys[j]) })
	return keys
}
