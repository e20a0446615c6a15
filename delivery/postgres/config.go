package postgres

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outbound-go/outbound/delivery"
)

// Defaults for the zero values of Config.
const (
	DefaultSchema            = "outbound"
	DefaultTable             = "outbox"
	DefaultPollInterval      = time.Second
	DefaultMaxReconnectDelay = 5 * time.Second
)

// Config configures a Store. Only Pool is required; every other zero value
// means the documented default. New validates it once and returns an error
// naming the offending field.
type Config struct {
	// Pool runs every query of the store except LISTEN. Required. The
	// caller owns it: Close does not close it.
	Pool *pgxpool.Pool

	// Schema is the PostgreSQL schema holding the outbox. Empty means
	// "outbound". It must match ^[a-z_][a-z0-9_]{0,62}$ (names are quoted,
	// never interpolated raw).
	Schema string

	// Table is the outbox table's name. Empty means "outbox". Related
	// objects take its name plus a suffix (_keys, _seq, _migrations, index
	// names), so it must match ^[a-z_][a-z0-9_]{0,47}$.
	Table string

	// Now, when set, is the clock the store reads for every time it writes
	// or compares, and the database server's clock is never used: for
	// tests that drive the store with a manual clock (package storetest
	// does). Instances sharing an outbox then need synchronised clocks.
	// Nil (the default) means the server's clock: leases and due times
	// are written and compared on it, and the times a caller hands in
	// (Reschedule's next, Purge's before, Filter.UpdatedBefore) are taken
	// as their distance from time.Now, so an instance whose clock is off
	// cannot take over live leases or claim retries early. The package
	// doc's Clocks section says more.
	Now func() time.Time

	// PollInterval is how often Notify is signalled while the listening
	// connection is down, so dispatchers keep polling until it is back.
	// Zero means one second; negative is an error.
	PollInterval time.Duration

	// MaxReconnectDelay caps the exponential backoff (from 100ms) between
	// attempts to re-establish the listening connection. Zero means five
	// seconds; negative is an error.
	MaxReconnectDelay time.Duration

	// History bounds the attempts each record keeps (Record.History),
	// trimmed by the statement that settles each attempt. The zero value
	// means delivery's defaults (10 attempts, 32 KiB).
	History delivery.History

	// AsyncClaimCommit lets each Claim commit without waiting for
	// PostgreSQL to flush it to disk, or for synchronous standbys to
	// confirm it: synchronous_commit is off for the claim's own
	// transaction only, and enqueues, settles and every other write still
	// wait for theirs. A claim then returns sooner, and a dispatcher that
	// spends most of its time claiming delivers more (cmd/compare's
	// durable run on a 2-CPU machine: about 1.1x the records per second at
	// Concurrency 1, 1.08x at 16).
	//
	// The cost comes only if the primary server crashes (not a clean
	// restart, not a lost connection), or fails over to a standby that
	// had not received the latest claims: claims committed in the moment
	// before (up to three times wal_writer_delay, 600ms by default) may be
	// undone. Their records are then claimable again at once while the
	// workers that claimed them may still be attempting them, so such a
	// record can be sent twice, concurrently, and a destination's
	// MaxInFlight, single probe or Rate can be exceeded until those
	// attempts end (the claim also spent the destination's rate tokens).
	// No enqueued record and no settled outcome is lost: the settle that
	// follows an undone claim finds its lease gone (delivery.ErrLeaseLost),
	// as after a lease expiry. False (the default) leaves claims as
	// durable as the server's, database's or role's synchronous_commit
	// makes every commit: with its default, on, a claim is on disk when
	// Claim returns.
	AsyncClaimCommit bool
}

var (
	schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
	tableName  = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,47}$`)
)

// ErrConfig is wrapped by every error New returns for a bad Config.
var ErrConfig = errors.New("postgres: invalid config")

// withDefaults validates c and fills in its zero values.
func (c Config) withDefaults() (Config, error) {
	if c.Pool == nil {
		return c, fmt.Errorf("%w: Pool is required", ErrConfig)
	}
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if !schemaName.MatchString(c.Schema) {
		return c, fmt.Errorf("%w: Schema %q must match %s", ErrConfig, c.Schema, schemaName)
	}
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if !tableName.MatchString(c.Table) {
		return c, fmt.Errorf("%w: Table %q must match %s", ErrConfig, c.Table, tableName)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.PollInterval < 0:
		return c, fmt.Errorf("%w: PollInterval %v is negative", ErrConfig, c.PollInterval)
	case c.PollInterval == 0:
		c.PollInterval = DefaultPollInterval
	}
	switch {
	case c.MaxReconnectDelay < 0:
		return c, fmt.Errorf("%w: MaxReconnectDelay %v is negative", ErrConfig, c.MaxReconnectDelay)
	case c.MaxReconnectDelay == 0:
		c.MaxReconnectDelay = DefaultMaxReconnectDelay
	}
	c.History = c.History.WithDefaults()
	return c, nil
}
