package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// writeJSON writes v as JSON with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes {"error": msg} with status code.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// storeError answers a store error: 400 for bad input, 404 for an unknown
// record, else 500 with the text logged, not shown.
func (h *Handler) storeError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, delivery.ErrNotFound):
		writeError(w, http.StatusNotFound, "not found")
	case errors.Is(err, delivery.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	default:
		h.cfg.Logger.ErrorContext(r.Context(), "admin: store failed", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "store failed; see the service's logs")
	}
}

func (h *Handler) apiStats(w http.ResponseWriter, r *http.Request) {
	st, err := h.cfg.Store.Stats(r.Context())
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ViewStats(st))
}

func (h *Handler) apiDestinations(w http.ResponseWriter, r *http.Request) {
	ds, err := h.cfg.Store.Destinations(r.Context())
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	out := make([]DestinationView, len(ds))
	for i := range ds {
		out[i] = ViewDestination(&ds[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"destinations": out})
}

// listOptions reads a listing's filters from query q: state, destination,
// key, error, updated_after, updated_before (RFC 3339), limit and after.
// It returns an error naming the bad parameter.
func listOptions(q url.Values) (delivery.ListOptions, error) {
	o := delivery.ListOptions{Destination: q.Get("destination"), Key: q.Get("key"),
		ErrorContains: q.Get("error"), After: q.Get("after")}
	if s := q.Get("state"); s != "" {
		st, err := delivery.ParseState(s)
		if err != nil {
			return o, fmt.Errorf("state: %w", err)
		}
		o.State = st
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"updated_after", &o.UpdatedAfter}, {"updated_before", &o.UpdatedBefore}} {
		if s := q.Get(p.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return o, fmt.Errorf("%s %q: want RFC 3339, like 2026-01-02T15:04:05Z", p.name, s)
			}
			*p.t = t
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > delivery.MaxPageSize {
			return o, fmt.Errorf("limit %q: want 1..%d", s, delivery.MaxPageSize)
		}
		o.Limit = n
	}
	return o, nil
}

func (h *Handler) apiRecords(w http.ResponseWriter, r *http.Request) {
	o, err := listOptions(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := h.cfg.Store.List(r.Context(), o)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	out := make([]RecordView, len(page.Records))
	for i := range page.Records {
		out[i] = ViewRecord(&page.Records[i], false)
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out, "next": page.Next})
}

func (h *Handler) apiRecord(w http.ResponseWriter, r *http.Request) {
	rec, err := h.cfg.Store.Get(r.Context(), r.URL.Query().Get("id"))
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ViewRecord(&rec, true))
}
