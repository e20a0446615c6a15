package admin

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// Limits of a purge request's limit field.
const (
	// DefaultPurgeLimit is how many records a purge deletes at most when
	// the request names no limit.
	DefaultPurgeLimit = 10_000
	// MaxPurgeLimit bounds the limit a purge request may ask for, so one
	// request cannot hold the store for long; purge in several requests.
	MaxPurgeLimit = 100_000
)

// purgeRefused lists the fields that select records by something other
// than age: Store.Purge cannot honour them, so a request naming one is
// refused rather than purging more than it asked for.
var purgeRefused = []string{"id", "destination", "key", "class"}

// purge deletes delivered and discarded records last changed before a
// time, as Store.Purge does: by updated_before (RFC 3339) or older_than
// (a duration), at most limit of them; dry_run counts them instead.
func (h *Handler) purge(w http.ResponseWriter, r *http.Request) {
	if !form(w, r) {
		return
	}
	for _, f := range purgeRefused {
		if _, ok := r.Form[f]; ok { // in the body or the URL
			writeError(w, http.StatusBadRequest, fmt.Sprintf("%s: purge selects records by age only "+
				"(updated_before or older_than): it deletes delivered and discarded records, never dead ones", f))
			return
		}
	}
	before, limit, err := purgeBounds(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if r.PostFormValue("dry_run") != "" {
		n, err := countPurgeable(r.Context(), h.cfg.Store, before, limit)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"matching": n, "dry_run": true})
		return
	}
	n, err := h.cfg.Store.Purge(r.Context(), before, limit)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	done(w, r, map[string]int{"purged": n})
}

// purgeBounds reads a purge's time (exactly one of updated_before and
// older_than) and limit. It returns an error naming the bad field.
func purgeBounds(r *http.Request) (time.Time, int, error) {
	at, age := r.PostFormValue("updated_before"), r.PostFormValue("older_than")
	var before time.Time
	switch {
	case at == "" && age == "":
		return before, 0, fmt.Errorf("updated_before (RFC 3339) or older_than (a duration, like 720h) is required")
	case at != "" && age != "":
		return before, 0, fmt.Errorf("updated_before and older_than: give one, not both")
	case at != "":
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return before, 0, fmt.Errorf("updated_before %q: want RFC 3339, like 2026-01-02T15:04:05Z", at)
		}
		before = t
	default:
		d, err := time.ParseDuration(age)
		if err != nil || d < 0 {
			return before, 0, fmt.Errorf("older_than %q: want a duration that is not negative, like 720h", age)
		}
		before = time.Now().Add(-d)
	}
	limit := DefaultPurgeLimit
	if s := r.PostFormValue("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPurgeLimit {
			return before, 0, fmt.Errorf("limit %q: want 1..%d", s, MaxPurgeLimit)
		}
		limit = n
	}
	return before, limit, nil
}

// countPurgeable counts the records Purge(before, limit) would delete now,
// at most limit: the delivered and discarded records last changed before
// before. It pages through s.List, so its cost grows with the count; it
// returns the first error of s.List.
func countPurgeable(ctx context.Context, s delivery.Store, before time.Time, limit int) (int, error) {
	n := 0
	for _, st := range []delivery.State{delivery.StateDelivered, delivery.StateDiscarded} {
		o := delivery.ListOptions{State: st, UpdatedBefore: before, Limit: delivery.MaxPageSize}
		for n < limit {
			page, err := s.List(ctx, o)
			if err != nil {
				return 0, err
			}
			n += len(page.Records)
			if page.Next == "" {
				break
			}
			o.After = page.Next
		}
	}
	return min(n, limit), nil
}
