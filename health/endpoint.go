package health

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// CheckStatus is a status in the draft "application/health+json" format
// (draft-inadarei-api-health-check): "pass", "warn" or "fail".
type CheckStatus string

// The statuses of a report and of each of its checks.
const (
	StatusPass CheckStatus = "pass"
	StatusWarn CheckStatus = "warn"
	StatusFail CheckStatus = "fail"
)

// Component is one dependency shown by an [Endpoint].
type Component struct {
	// Monitor tracks the dependency; its Name is the check's key in the
	// report. Required.
	Monitor *Monitor
	// Critical makes the whole service fail (503) while the dependency is
	// down. A down dependency that is not critical only degrades the
	// service (warn, 200): for an outbound library, a partner that is down
	// means records wait, not that this service is broken.
	Critical bool
	// Type is the draft's componentType, for example "datastore" or
	// "system". Empty means "component".
	Type string
}

// EndpointConfig configures an [Endpoint].
type EndpointConfig struct {
	// Components are the dependencies to report, in no particular order
	// (the report is keyed by name). Names must be unique.
	Components []Component
	// ServiceID, Description and Version, if set, are copied into the
	// report's serviceId, description and version fields.
	ServiceID, Description, Version string
}

// Report is the body an [Endpoint] serves, in the draft
// "application/health+json" format, with one extension per check: "since".
type Report struct {
	// Status is the overall status: "fail" if a critical component is
	// down, "warn" if any component is down or not yet checked, otherwise
	// "pass".
	Status CheckStatus `json:"status"`
	// Version, ServiceID and Description come from EndpointConfig.
	Version     string `json:"version,omitempty"`
	ServiceID   string `json:"serviceId,omitempty"`
	Description string `json:"description,omitempty"`
	// Checks holds one entry per component, keyed by its monitor's name.
	// The draft allows several observations per key, hence the slice.
	Checks map[string][]CheckReport `json:"checks"`
}

// CheckReport is one component's entry in a [Report].
type CheckReport struct {
	// ComponentType is the Component's Type.
	ComponentType string `json:"componentType"`
	// Status is "pass" when the component is up, "fail" when it is down
	// and "warn" when it has not been checked yet.
	Status CheckStatus `json:"status"`
	// Time is when the latest probe finished (RFC 3339, UTC); absent
	// before the first.
	Time string `json:"time,omitempty"`
	// Since is when the component entered its current state (RFC 3339,
	// UTC). An extension of the draft.
	Since string `json:"since"`
	// Output is the latest probe's error, redacted and bounded as by
	// [Redact]; absent when the status is "pass", as the draft asks.
	Output string `json:"output,omitempty"`
}

// Endpoint is an http.Handler that reports the service's view of its
// dependencies as "application/health+json": 200 when the overall status
// is pass or warn, 503 when it is fail. It reports the monitors' cached
// state and never probes, so a busy load balancer cannot turn into load
// on the partners; run the monitors with Start to keep it current.
//
// The body, for a service with a critical database and a partner that is
// down:
//
//	{
//	  "status": "warn",
//	  "checks": {
//	    "db": [{"componentType": "datastore", "status": "pass",
//	            "time": "2025-01-02T15:04:05Z", "since": "2025-01-02T14:00:00Z"}],
//	    "partner": [{"componentType": "component", "status": "fail",
//	            "time": "2025-01-02T15:04:05Z", "since": "2025-01-02T15:03:35Z",
//	            "output": "ephemeral: http 503 Service Unavailable: ..."}]
//	  }
//	}
type Endpoint struct {
	cfg EndpointConfig
}

// NewEndpoint returns an endpoint for cfg. It returns an error when a
// component has no Monitor or two share a name.
func NewEndpoint(cfg EndpointConfig) (*Endpoint, error) {
	seen := make(map[string]bool, len(cfg.Components))
	comps := make([]Component, len(cfg.Components))
	for i, c := range cfg.Components {
		if c.Monitor == nil {
			return nil, fmt.Errorf("health: EndpointConfig.Components[%d].Monitor is required", i)
		}
		name := c.Monitor.Name()
		if seen[name] {
			return nil, fmt.Errorf("health: EndpointConfig.Components: name %q is used twice", name)
		}
		seen[name] = true
		c.Type = orDefault(c.Type, "component")
		comps[i] = c
	}
	if len(comps) == 0 {
		return nil, errors.New("health: EndpointConfig.Components is empty")
	}
	cfg.Components = comps
	return &Endpoint{cfg: cfg}, nil
}

// Report returns the current report.
func (e *Endpoint) Report() Report {
	r := Report{
		Status:      StatusPass,
		Version:     e.cfg.Version,
		ServiceID:   e.cfg.ServiceID,
		Description: e.cfg.Description,
		Checks:      make(map[string][]CheckReport, len(e.cfg.Components)),
	}
	for _, c := range e.cfg.Components {
		s := c.Monitor.Snapshot()
		cr := CheckReport{ComponentType: c.Type, Since: timestamp(s.Since)}
		if !s.CheckedAt.IsZero() {
			cr.Time = timestamp(s.CheckedAt)
		}
		switch s.State {
		case StateUp:
			cr.Status = StatusPass
		case StateDown:
			cr.Status = StatusFail
			if c.Critical {
				r.Status = StatusFail
			} else if r.Status == StatusPass {
				r.Status = StatusWarn
			}
		default:
			cr.Status = StatusWarn
			cr.Output = "not checked yet"
			if r.Status == StatusPass {
				r.Status = StatusWarn
			}
		}
		if cr.Status != StatusPass && s.Err != nil {
			cr.Output = Redact(s.Err.Error())
		}
		r.Checks[s.Name] = []CheckReport{cr}
	}
	return r
}

// ServeHTTP writes the report for GET and HEAD requests, with status 200
// (pass, warn) or 503 (fail), and answers 405 to other methods.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r := e.Report()
	body, err := json.MarshalIndent(r, "", "  ")
	if err != nil { // cannot happen: Report holds only strings
		http.Error(w, "health: cannot encode report", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/health+json")
	h.Set("Cache-Control", "no-store")
	code := http.StatusOK
	if r.Status == StatusFail {
		code = http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	if req.Method == http.MethodGet {
		_, _ = w.Write(append(body, '\n'))
	}
}

func timestamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
