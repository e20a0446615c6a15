package health

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// maxEchoedValue bounds how much of a partner's field value an error from
// [JSONField] repeats.
const maxEchoedValue = 64

// JSONField returns a body validator, for [HTTPCheckerConfig].Validate,
// that requires the JSON body to have the field at path and, when accept
// is not empty, that field's value to be one of accept.
//
// path names nested object fields with dots: "status" is {"status": ...},
// "checks.db.status" is {"checks": {"db": {"status": ...}}}; an empty path
// is the whole body, so JSONField("") only requires valid JSON. A string
// value is compared as it is; any other value as its compact JSON text
// ("true", "1", "null"). The validator returns an error saying what was
// missing or which value was found (bounded and quoted); it never panics,
// whatever the body.
//
//	health.JSONField("status", "ok", "pass") // accepts {"status":"ok"}
func JSONField(path string, accept ...string) func(body []byte) error {
	var keys []string
	if path != "" {
		keys = strings.Split(path, ".")
	}
	accept = append([]string(nil), accept...)
	return func(body []byte) error {
		var v any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("health: body is not JSON: %w", err)
		}
		for _, k := range keys {
			obj, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("health: body has no field %q", path)
			}
			if v, ok = obj[k]; !ok {
				return fmt.Errorf("health: body has no field %q", path)
			}
		}
		if len(accept) == 0 {
			return nil
		}
		got, ok := v.(string)
		if !ok {
			text, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("health: body field %q: %w", path, err)
			}
			got = string(text)
		}
		for _, a := range accept {
			if got == a {
				return nil
			}
		}
		return fmt.Errorf("health: body field %q is %s, want one of %q",
			path, strconv.Quote(truncate(got, maxEchoedValue)), accept)
	}
}
