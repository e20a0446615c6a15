package postgres

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/jackc/pgx/v5"
)

// names holds the quoted SQL identifiers of one outbox. Every name is
// derived from a validated schema and table and quoted with pgx.Identifier,
// so no caller-supplied text reaches SQL unquoted.
type names struct {
	Schema       string // quoted schema
	Table        string // quoted schema.table: the records
	Keys         string // quoted schema.table_keys: live records per destination and ordering key
	KeysPK       string // quoted table_keys_pkey: the keys table's primary key constraint
	Destinations string // quoted schema.table_destinations: destination state
	Seq          string // quoted schema.table_seq: the Seq sequence
	SeqName      string // schema.table_seq as text, for nextval's regclass argument
	Migrations   string // quoted schema.table_migrations: applied versions
	NotifyFunc   string // quoted schema.table_notify(): the insert trigger function
	Trigger      string // quoted table_notify: the statement-level insert trigger
	Channel      string // LISTEN/NOTIFY channel, a plain lower-case identifier

	// Index names, quoted, unqualified (CREATE INDEX puts them in the
	// table's schema).
	ClaimIdx, LeaseIdx, KeyIdx, IdemIdx, PurgeIdx, DeadIdx, SeqIdx          string
	PendingIdx, LiveAgeIdx, DestIdemIdx                                     string
	DestClaimIdx, DestLeaseIdx, DestKeyIdx, DestSeqIdx, ServedIdx, TokenIdx string
	PendingSeqIdx                                                           string

	schema, table string // unquoted, as the catalogs spell them

	raw string // schema.table, unquoted, for messages
}

func newNames(schema, table string) names {
	q := func(parts ...string) string { return pgx.Identifier(parts).Sanitize() }
	sum := sha256.Sum256([]byte(schema + "." + table))
	return names{
		Schema:        q(schema),
		Table:         q(schema, table),
		Keys:          q(schema, table+"_keys"),
		KeysPK:        q(table + "_keys_pkey"),
		Destinations:  q(schema, table+"_destinations"),
		DestClaimIdx:  q(table + "_dest_claim_idx"),
		PendingSeqIdx: q(table + "_pending_seq_idx"),
		DestLeaseIdx:  q(table + "_dest_lease_idx"),
		DestKeyIdx:    q(table + "_dest_live_key_idx"),
		DestSeqIdx:    q(table + "_dest_seq_idx"),
		ServedIdx:     q(table + "_destinations_served_idx"),
		TokenIdx:      q(table + "_destinations_token_idx"),
		Seq:           q(schema, table+"_seq"),
		SeqName:       q(schema, table+"_seq"),
		Migrations:    q(schema, table+"_migrations"),
		NotifyFunc:    q(schema, table+"_notify"),
		Trigger:       q(table + "_notify"),
		Channel:       "outbound_" + hex.EncodeToString(sum[:12]),
		ClaimIdx:      q(table + "_claim_idx"),
		LeaseIdx:      q(table + "_lease_idx"),
		KeyIdx:        q(table + "_live_key_idx"),
		IdemIdx:       q(table + "_idem_key"),
		PurgeIdx:      q(table + "_purge_idx"),
		DeadIdx:       q(table + "_dead_idx"),
		SeqIdx:        q(table + "_seq_key"),
		PendingIdx:    q(table + "_pending_idx"),
		LiveAgeIdx:    q(table + "_live_age_idx"),
		DestIdemIdx:   q(table + "_dest_idem_key"),
		schema:        schema,
		table:         table,
		raw:           schema + "." + table,
	}
}

// dataTables lists, quoted, every table whose rows the store reads and
// writes at run time (not table_migrations). GrantSQL grants on exactly
// these: a migration that adds a table adds it here.
func (n names) dataTables() []string { return []string{n.Table, n.Keys, n.Destinations} }

// sequences lists, quoted, every sequence the store draws from at run
// time. GrantSQL grants USAGE on exactly these.
func (n names) sequences() []string { return []string{n.Seq} }
