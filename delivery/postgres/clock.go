package postgres

import "time"

// The store's clock (see the package doc, Clocks).
//
// By default every time the store writes or compares is read from the
// database server's clock, in SQL: each statement's "now" is a parameter
// that is NULL, so the statement takes now() (see nowParam). The times a
// caller hands in (Reschedule's next, Purge's before, Filter.UpdatedBefore)
// are on the caller's clock; they travel as their distance from the
// caller's now, added to the database's now. So a host whose clock is off
// moves nothing it did not mean to: a two-minute backoff is two minutes of
// the database's clock, whoever computed it.
//
// With Config.Now set, that clock is used for everything and the database's
// is never read (a test's manual clock: package storetest drives stores
// that way): the parameter is its time, and distances are measured from
// it, so a time handed in is stored exactly.

// stamp is one reading of the clocks for one statement.
type stamp struct {
	now    *time.Time // the statement's now; nil means the database's now()
	caller time.Time  // the caller's clock at the same moment
}

// stamp reads the clocks for a statement.
func (s *Store) stamp() stamp {
	if s.dbClock {
		return stamp{caller: s.now()}
	}
	t := ts(s.now())
	return stamp{now: &t, caller: t}
}

// offset returns t, a time on the caller's clock, as its distance from the
// statement's now. PostgreSQL keeps microseconds, so it is truncated to
// them (exactly, with a configured clock, whose now is truncated too).
func (c stamp) offset(t time.Time) time.Duration {
	return ts(t).Sub(c.caller).Truncate(time.Microsecond)
}

// fromDatabase returns t, a time the database wrote or read on its clock
// at dbNow, on the caller's clock: the same distance from the caller's now.
// With a configured clock both are one clock and t is returned as it is.
func (c stamp) fromDatabase(t, dbNow time.Time) time.Time {
	if c.now != nil {
		return t
	}
	return c.caller.Add(t.Sub(dbNow))
}
