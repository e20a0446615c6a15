package admin

import (
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
)

// done answers a successful action: JSON, or for the page's forms (a
// "back" field) a redirect to the page the form was on. The redirect is
// relative to the action's path (api/...), so it works wherever the
// handler is mounted, and names only pages of this handler.
func done(w http.ResponseWriter, r *http.Request, v any) {
	switch r.PostFormValue("back") {
	case "home":
		w.Header().Set("Location", "../")
		w.WriteHeader(http.StatusSeeOther)
	case "record":
		w.Header().Set("Location", "../record?id="+url.QueryEscape(r.PostFormValue("id")))
		w.WriteHeader(http.StatusSeeOther)
	default:
		writeJSON(w, http.StatusOK, v)
	}
}

// form parses an action's form, answering 400 when it cannot.
func form(w http.ResponseWriter, r *http.Request) bool {
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "bad form: "+err.Error())
		return false
	}
	return true
}

func (h *Handler) redrive(w http.ResponseWriter, r *http.Request) {
	if !form(w, r) {
		return
	}
	ids := r.PostForm["id"]
	if len(ids) == 0 {
		writeError(w, http.StatusBadRequest, "id is required (one or more)")
		return
	}
	n, err := h.cfg.Store.Redrive(r.Context(), ids...)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	done(w, r, map[string]int{"redriven": n})
}

func (h *Handler) redriveMatching(w http.ResponseWriter, r *http.Request) {
	if !form(w, r) {
		return
	}
	f := delivery.Filter{Destination: r.PostFormValue("destination"), Key: r.PostFormValue("key")}
	for _, c := range r.PostForm["class"] {
		cl, err := classify.ParseClass(c)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("class %q: %v", c, err))
			return
		}
		f.Classes = append(f.Classes, cl)
	}
	if s := r.PostFormValue("updated_before"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("updated_before %q: want RFC 3339", s))
			return
		}
		f.UpdatedBefore = t
	}
	if r.PostFormValue("dry_run") != "" {
		n, err := delivery.CountMatching(r.Context(), h.cfg.Store, f)
		if err != nil {
			h.storeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"matching": n, "dry_run": true})
		return
	}
	n, err := h.cfg.Store.RedriveMatching(r.Context(), f)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	done(w, r, map[string]int{"redriven": n})
}

func (h *Handler) pause(w http.ResponseWriter, r *http.Request) {
	if !form(w, r) {
		return
	}
	d := DefaultPause
	if s := r.PostFormValue("for"); s != "" {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d <= 0 || d > h.cfg.MaxPause {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("for %q: want a duration in (0, %v], like 30m", s, h.cfg.MaxPause))
			return
		}
	}
	reason := r.PostFormValue("reason")
	if reason == "" {
		reason = "paused by an operator"
	}
	dest, err := h.cfg.Store.PauseDestination(r.Context(), r.PostFormValue("name"),
		delivery.Pause{Until: time.Now().Add(d), Cause: "operator", Reason: reason})
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	done(w, r, ViewDestination(&dest))
}

func (h *Handler) resume(w http.ResponseWriter, r *http.Request) {
	if !form(w, r) {
		return
	}
	if err := h.cfg.Store.ResumeDestination(r.Context(), r.PostFormValue("name")); err != nil {
		h.storeError(w, r, err)
		return
	}
	done(w, r, map[string]bool{"resumed": true})
}

func (h *Handler) disable(w http.ResponseWriter, r *http.Request) {
	if !form(w, r) {
		return
	}
	reason := r.PostFormValue("reason")
	if reason == "" {
		reason = "disabled by an operator"
	}
	if err := h.cfg.Store.DisableDestination(r.Context(), r.PostFormValue("name"), "operator", reason); err != nil {
		h.storeError(w, r, err)
		return
	}
	done(w, r, map[string]bool{"disabled": true})
}
