package admin

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// Action is what a request would do, as an Authorizer sees it.
type Action string

// Actions.
const (
	// ActionRead reads: the page, stats, destinations, records.
	ActionRead Action = "read"
	// ActionRedrive redrives dead records, by id or by filter.
	ActionRedrive Action = "redrive"
	// ActionPause pauses a destination.
	ActionPause Action = "pause"
	// ActionResume resumes a paused or disabled destination.
	ActionResume Action = "resume"
	// ActionDisable disables a destination until someone resumes it.
	ActionDisable Action = "disable"
	// ActionPurge deletes delivered and discarded records last changed
	// before a time (delivery.Store.Purge); a dry run counts them.
	ActionPurge Action = "purge"
)

// Authorizer decides whether r may take action a. It returns nil to allow
// the request and an error to refuse it: the handler then answers 403
// without showing the error's text (it may say why to the service's logs,
// not to the client). It is called before the request touches the store.
type Authorizer func(r *http.Request, a Action) error

// ErrForbidden is an error an Authorizer may return to refuse a request.
var ErrForbidden = errors.New("admin: forbidden")

// ErrNoAuthorizer is returned by New for a Config without Authorize.
var ErrNoAuthorizer = errors.New("admin: Config.Authorize is required: the admin surface refuses to run open")

// Config configures a Handler.
type Config struct {
	// Store is the outbox to inspect and act on. Required.
	Store delivery.Store
	// Authorize is asked before every request. Required: there is no
	// default that lets anyone in.
	Authorize Authorizer
	// Logger receives store failures (their text is not sent to the
	// client). Nil means slog.Default().
	Logger *slog.Logger
	// MaxPause bounds the pause an operator may set. Zero means 30 days.
	MaxPause time.Duration
}

// DefaultPause is how long a pause lasts when the request names no
// duration.
const DefaultPause = time.Hour

// Handler serves the admin page and API. Create it with New; it is safe
// for concurrent use.
type Handler struct {
	cfg Config
	mux *http.ServeMux
	cop *http.CrossOriginProtection
}

// New returns a Handler for cfg. It returns ErrNoAuthorizer without
// cfg.Authorize and an error for a nil Store or a negative MaxPause.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Authorize == nil:
		return nil, ErrNoAuthorizer
	case cfg.Store == nil:
		return nil, errors.New("admin: Config.Store is required")
	case cfg.MaxPause < 0:
		return nil, errors.New("admin: Config.MaxPause is negative")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxPause == 0 {
		cfg.MaxPause = 30 * 24 * time.Hour
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), cop: http.NewCrossOriginProtection()}
	h.route("GET /{$}", ActionRead, h.home)
	h.route("GET /record", ActionRead, h.recordPage)
	h.route("GET /static/admin.css", ActionRead, serveCSS)
	h.route("GET /api/stats", ActionRead, h.apiStats)
	h.route("GET /api/destinations", ActionRead, h.apiDestinations)
	h.route("GET /api/records", ActionRead, h.apiRecords)
	h.route("GET /api/record", ActionRead, h.apiRecord)
	h.route("POST /api/redrive", ActionRedrive, h.redrive)
	h.route("POST /api/redrive-matching", ActionRedrive, h.redriveMatching)
	h.route("POST /api/pause", ActionPause, h.pause)
	h.route("POST /api/resume", ActionResume, h.resume)
	h.route("POST /api/disable", ActionDisable, h.disable)
	h.route("POST /api/purge", ActionPurge, h.purge)
	return h, nil
}

// route registers fn for pattern behind the checks every request passes:
// the authorizer, and for actions the cross-origin check.
func (h *Handler) route(pattern string, a Action, fn http.HandlerFunc) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := h.cfg.Authorize(r, a); err != nil {
			writeError(w, http.StatusForbidden, "forbidden")
			return
		}
		if a != ActionRead {
			if err := h.cop.Check(r); err != nil {
				writeError(w, http.StatusForbidden, "cross-origin request refused")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		}
		fn(w, r)
	})
}

// maxForm bounds an action's request body.
const maxForm = 64 << 10

// csp allows nothing but the handler's own stylesheet and forms posting
// back to it: no script, no framing, no plugins.
const csp = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP implements http.Handler. Every response carries the security
// headers; unknown paths are 404 and wrong methods 405 (both only after
// the mux has matched nothing, so they reveal no record).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}
