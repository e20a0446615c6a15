package admin

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static/admin.css
var css []byte

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"dest": func(name string) string {
		if name == "" {
			return "(default)"
		}
		return name
	},
}).ParseFS(templateFiles, "templates/*.html"))

// serveCSS serves the page's only stylesheet (the CSP allows no other).
func serveCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(css)
}

// render executes template name into a buffer first, so a failure is a
// clean 500, not half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		h.cfg.Logger.ErrorContext(r.Context(), "admin: render", "template", name, "err", err)
		http.Error(w, "render failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = buf.WriteTo(w)
}

// deadPage is how many dead letters the home page lists.
const deadPage = 50

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	st, err := h.cfg.Store.Stats(ctx)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	ds, err := h.cfg.Store.Destinations(ctx)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	o, err := listOptions(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if o.State == 0 {
		o.State = delivery.StateDead
	}
	if o.Limit == 0 {
		o.Limit = deadPage
	}
	page, err := h.cfg.Store.List(ctx, o)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	data := struct {
		Stats        StatsView
		Destinations []DestinationView
		Records      []RecordView
		State        string
		Filter       delivery.ListOptions
		Next         string
	}{Stats: ViewStats(st), State: o.State.String(), Filter: o, Next: page.Next}
	for i := range ds {
		data.Destinations = append(data.Destinations, ViewDestination(&ds[i]))
	}
	for i := range page.Records {
		data.Records = append(data.Records, ViewRecord(&page.Records[i], false))
	}
	h.render(w, r, "home.html", data)
}

func (h *Handler) recordPage(w http.ResponseWriter, r *http.Request) {
	rec, err := h.cfg.Store.Get(r.Context(), r.URL.Query().Get("id"))
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	h.render(w, r, "record.html", ViewRecord(&rec, true))
}
