package logging

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/outbound-go/outbound/internal/text"
)

// RedactedValue replaces the values of redacted payload fields in logs.
const RedactedValue = "[redacted]"

// DefaultMaxLoggedPayload is how many bytes of a payload a Observer logs
// when Config.MaxPayload is zero.
const DefaultMaxLoggedPayload = 1024

// payloadRedactor renders payloads for log lines with configured JSON fields
// replaced.
type payloadRedactor struct {
	fields map[string]bool // lower-case field names
	max    int
}

// render returns the payload as it may be logged. With fields to redact, a
// payload that is not a JSON object or array is withheld entirely rather
// than risk logging a field that could not be found; the result is cut to
// max bytes at a rune boundary.
func (p *payloadRedactor) render(payload []byte) string {
	if len(p.fields) == 0 {
		return text.Ellipsis(strings.ToValidUTF8(string(payload), "\uFFFD"), p.max)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return "[withheld: not JSON]"
	}
	switch v.(type) {
	case map[string]any, []any:
	default:
		return "[withheld: not a JSON object or array]"
	}
	out, err := json.Marshal(p.redact(v))
	if err != nil {
		return "[withheld: not JSON]"
	}
	return text.Ellipsis(string(out), p.max)
}

// redact replaces the values of configured fields, at any depth, with
// RedactedValue. Field names match without regard to case.
func (p *payloadRedactor) redact(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, child := range t {
			if p.fields[strings.ToLower(k)] {
				t[k] = RedactedValue
			} else {
				t[k] = p.redact(child)
			}
		}
	case []any:
		for i, child := range t {
			t[i] = p.redact(child)
		}
	}
	return v
}
