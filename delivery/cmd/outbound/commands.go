package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/admin"
)

// noArgs is prepare for a command without positional arguments.
func noArgs(a action) func([]string) (action, error) {
	return func(args []string) (action, error) {
		if len(args) > 0 {
			return nil, fmt.Errorf("unexpected argument %q", args[0])
		}
		return a, nil
	}
}

// oneArg is prepare for a command of one positional argument, what.
func oneArg(what string, a func(arg string) action) func([]string) (action, error) {
	return func(args []string) (action, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("want one %s, got %d arguments", what, len(args))
		}
		return a(args[0]), nil
	}
}

// table writes rows as aligned columns.
func (e *env) table(header string, rows [][]string) error {
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func statsCmd(*flag.FlagSet) func([]string) (action, error) {
	return noArgs(func(e *env) error {
		st, err := e.store.Stats(e.ctx)
		if err != nil {
			return err
		}
		v := admin.ViewStats(st)
		if e.json {
			return e.writeJSON(v)
		}
		var rows [][]string
		for _, s := range delivery.States {
			rows = append(rows, []string{s.String(), fmt.Sprint(st.Count(s))})
		}
		rows = append(rows, []string{"oldest live", v.OldestPending}, []string{"longest due", v.OldestDue})
		return e.table("STATE\tRECORDS", rows)
	})
}

func destinationsCmd(*flag.FlagSet) func([]string) (action, error) {
	return noArgs(func(e *env) error {
		ds, err := e.store.Destinations(e.ctx)
		if err != nil {
			return err
		}
		views := make([]admin.DestinationView, len(ds))
		for i := range ds {
			views[i] = admin.ViewDestination(&ds[i])
		}
		if e.json {
			return e.writeJSON(views)
		}
		rows := make([][]string, len(views))
		for i, d := range views {
			why := d.Cause
			if d.Reason != "" {
				why += ": " + d.Reason
			}
			until := ""
			if d.PausedUntil != nil {
				until = d.PausedUntil.UTC().Format(time.RFC3339)
			}
			rows[i] = []string{name(d.Name), d.Status, until, fmt.Sprint(d.Pending), fmt.Sprint(d.InFlight), fmt.Sprint(d.Dead), d.OldestPending, why}
		}
		return e.table("NAME\tSTATUS\tUNTIL\tPENDING\tIN FLIGHT\tDEAD\tOLDEST\tWHY", rows)
	})
}

// name shows the default destination's empty name.
func name(n string) string {
	if n == "" {
		return "(default)"
	}
	return n
}

// timeFlag is a flag holding an RFC 3339 time.
type timeFlag struct{ t *time.Time }

func (f timeFlag) String() string {
	if f.t == nil || f.t.IsZero() {
		return ""
	}
	return f.t.Format(time.RFC3339Nano)
}

func (f timeFlag) Set(s string) error {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("want an RFC 3339 time, like 2026-01-02T15:04:05Z")
	}
	*f.t = t
	return nil
}

func listCmd(fs *flag.FlagSet) func([]string) (action, error) {
	var o delivery.ListOptions
	var state string
	fs.StringVar(&state, "state", "", "pending, in_flight, delivered, dead or discarded")
	fs.StringVar(&o.Destination, "destination", "", "only this destination's records")
	fs.StringVar(&o.Key, "key", "", "only records of this ordering key")
	fs.StringVar(&o.ErrorContains, "error", "", "only records whose last error contains this text (case matters)")
	fs.Var(timeFlag{&o.UpdatedAfter}, "updated-after", "only records last changed at or after this time (RFC 3339)")
	fs.Var(timeFlag{&o.UpdatedBefore}, "updated-before", "only records last changed before this time (RFC 3339)")
	fs.IntVar(&o.Limit, "limit", 100, fmt.Sprintf("page size, 1..%d", delivery.MaxPageSize))
	fs.StringVar(&o.After, "after", "", "the cursor a previous page printed (next)")
	return func(args []string) (action, error) {
		if len(args) > 0 {
			return nil, fmt.Errorf("unexpected argument %q", args[0])
		}
		if state != "" {
			st, err := delivery.ParseState(state)
			if err != nil {
				return nil, fmt.Errorf("-state %q: want pending, in_flight, delivered, dead or discarded", state)
			}
			o.State = st
		}
		if o.Limit < 1 || o.Limit > delivery.MaxPageSize {
			return nil, fmt.Errorf("-limit %d: want 1..%d", o.Limit, delivery.MaxPageSize)
		}
		return func(e *env) error {
			page, err := e.store.List(e.ctx, o)
			if err != nil {
				return err
			}
			views := make([]admin.RecordView, len(page.Records))
			for i := range page.Records {
				views[i] = admin.ViewRecord(&page.Records[i], false)
			}
			if e.json {
				return e.writeJSON(struct {
					Records []admin.RecordView `json:"records"`
					Next    string             `json:"next"`
				}{views, page.Next})
			}
			rows := make([][]string, len(views))
			for i, r := range views {
				last := ""
				if r.LastAttempt != nil {
					last = oneLine(r.LastAttempt.Error, 80)
				}
				rows[i] = []string{r.ID, name(r.Destination), r.State, fmt.Sprint(r.Attempts), r.UpdatedAt.UTC().Format(time.RFC3339), last}
			}
			if err := e.table("ID\tDESTINATION\tSTATE\tATTEMPTS\tUPDATED\tLAST ERROR", rows); err != nil {
				return err
			}
			if page.Next != "" {
				fmt.Fprintf(e.stdout, "next page: -after %s\n", page.Next)
			}
			return nil
		}, nil
	}
}

// oneLine cuts s to n runes for a table cell.
func oneLine(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

func showCmd(*flag.FlagSet) func([]string) (action, error) {
	return oneArg("record id", func(id string) action {
		return func(e *env) error {
			r, err := e.store.Get(e.ctx, id)
			if err != nil {
				return err
			}
			v := admin.ViewRecord(&r, true)
			if e.json {
				return e.writeJSON(v)
			}
			rows := [][]string{
				{"id", v.ID}, {"state", v.State}, {"destination", name(v.Destination)}, {"key", v.Key},
				{"attempts", fmt.Sprint(v.Attempts)}, {"created", v.CreatedAt.UTC().Format(time.RFC3339Nano)},
				{"updated", v.UpdatedAt.UTC().Format(time.RFC3339Nano)}, {"correlation id", v.CorrelationID},
				{"payload", fmt.Sprintf("%d bytes (not shown)", v.PayloadBytes)},
				{"headers", strings.Join(v.HeaderNames, " ") + " (values not shown)"},
			}
			if err := e.table("FIELD\tVALUE", rows); err != nil {
				return err
			}
			fmt.Fprintln(e.stdout)
			hist := make([][]string, len(v.History))
			for i, a := range v.History {
				hist[i] = []string{a.StartedAt.UTC().Format(time.RFC3339Nano), a.Duration, orDash(a.Channel), a.Class, status(a.Status), a.Error, oneLine(a.Response, 60)}
			}
			if len(hist) == 0 {
				fmt.Fprintln(e.stdout, "never attempted")
				return nil
			}
			return e.table("STARTED\tTOOK\tCHANNEL\tCLASS\tSTATUS\tERROR\tRESPONSE", hist)
		}
	})
}

// orDash returns s, or "-" for an empty s, so a table's column is never
// blank.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func status(s int) string {
	if s == 0 {
		return "-"
	}
	return fmt.Sprint(s)
}

func redriveCmd(fs *flag.FlagSet) func([]string) (action, error) {
	var f delivery.Filter
	var classes string
	var dry bool
	fs.StringVar(&f.Destination, "destination", "", "with no ids: only this destination's dead records")
	fs.StringVar(&f.Key, "key", "", "with no ids: only this key's dead records")
	fs.StringVar(&classes, "class", "", "with no ids: only records whose last attempt ended in these classes (comma-separated: permanent,ephemeral,...)")
	fs.Var(timeFlag{&f.UpdatedBefore}, "before", "with no ids: only records that died before this time (RFC 3339)")
	fs.BoolVar(&dry, "dry-run", false, "say how many records would be redriven, and change nothing")
	return func(ids []string) (action, error) {
		if classes != "" {
			for _, c := range strings.Split(classes, ",") {
				cl, err := classify.ParseClass(strings.TrimSpace(c))
				if err != nil {
					return nil, fmt.Errorf("-class %q: %v", c, err)
				}
				f.Classes = append(f.Classes, cl)
			}
		}
		filtered := f.Destination != "" || f.Key != "" || len(f.Classes) > 0 || !f.UpdatedBefore.IsZero()
		if len(ids) > 0 && filtered {
			return nil, errors.New("give record ids or filter flags, not both")
		}
		return func(e *env) error {
			var n int
			var err error
			switch {
			case dry && len(ids) > 0:
				n, err = countDead(e, ids)
			case dry:
				n, err = delivery.CountMatching(e.ctx, e.store, f)
			case len(ids) > 0:
				n, err = e.store.Redrive(e.ctx, ids...)
			default:
				n, err = e.store.RedriveMatching(e.ctx, f)
			}
			if err != nil {
				return err
			}
			if e.json {
				if dry {
					return e.writeJSON(map[string]any{"matching": n, "dry_run": true})
				}
				return e.writeJSON(map[string]int{"redriven": n})
			}
			if dry {
				_, err = fmt.Fprintf(e.stdout, "%d dead records would be redriven (dry run: nothing changed)\n", n)
			} else {
				_, err = fmt.Fprintf(e.stdout, "redriven: %d\n", n)
			}
			return err
		}, nil
	}
}

// countDead is a dry run of Redrive(ids...): it fails as Redrive would on
// an unknown id or a record that is not dead.
func countDead(e *env, ids []string) (int, error) {
	seen := map[string]bool{}
	for _, id := range ids {
		r, err := e.store.Get(e.ctx, id)
		if err != nil {
			return 0, err
		}
		if r.State != delivery.StateDead {
			return 0, fmt.Errorf("record %q is %s, not dead: %w", id, r.State, delivery.ErrInvalid)
		}
		seen[id] = true
	}
	return len(seen), nil
}

func pauseCmd(fs *flag.FlagSet) func([]string) (action, error) {
	d := fs.Duration("for", time.Hour, "how long the pause lasts")
	reason := fs.String("reason", "paused by an operator", "why, for the other people on call")
	return func(args []string) (action, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("want one destination name, got %d arguments", len(args))
		}
		if *d <= 0 {
			return nil, fmt.Errorf("-for %v: want a positive duration", *d)
		}
		dest := args[0]
		return func(e *env) error {
			got, err := e.store.PauseDestination(e.ctx, dest, delivery.Pause{Until: time.Now().Add(*d), Cause: "operator", Reason: *reason})
			if err != nil {
				return err
			}
			v := admin.ViewDestination(&got)
			if e.json {
				return e.writeJSON(v)
			}
			_, err = fmt.Fprintf(e.stdout, "%s: %s until %s\n", name(v.Name), v.Status, got.PausedUntil.UTC().Format(time.RFC3339))
			return err
		}, nil
	}
}

func resumeCmd(*flag.FlagSet) func([]string) (action, error) {
	return oneArg("destination name", func(dest string) action {
		return func(e *env) error {
			if err := e.store.ResumeDestination(e.ctx, dest); err != nil {
				return err
			}
			if e.json {
				return e.writeJSON(map[string]any{"name": dest, "resumed": true})
			}
			_, err := fmt.Fprintf(e.stdout, "%s: resumed\n", name(dest))
			return err
		}
	})
}

func purgeCmd(fs *flag.FlagSet) func([]string) (action, error) {
	older := fs.Duration("older-than", 30*24*time.Hour, "delete delivered and discarded records last changed longer ago than this")
	limit := fs.Int("limit", 10_000, "delete at most this many")
	return func(args []string) (action, error) {
		if len(args) > 0 {
			return nil, fmt.Errorf("unexpected argument %q", args[0])
		}
		if *older < 0 || *limit <= 0 {
			return nil, fmt.Errorf("-older-than must not be negative and -limit must be positive")
		}
		return func(e *env) error {
			n, err := e.store.Purge(e.ctx, time.Now().Add(-*older), *limit)
			if err != nil {
				return err
			}
			if e.json {
				return e.writeJSON(map[string]int{"purged": n})
			}
			_, err = fmt.Fprintf(e.stdout, "purged: %d\n", n)
			return err
		}, nil
	}
}
