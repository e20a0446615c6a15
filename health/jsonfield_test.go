package health_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/health"
)

func TestJSONField(t *testing.T) {
	tests := []struct {
		path   string
		accept []string
		body   string
		want   string // empty: valid
	}{
		{"status", []string{"ok", "pass"}, `{"status":"pass"}`, ""},
		{"status", nil, `{"status":null}`, ""},
		{"status", []string{"ok"}, `{"status":"down"}`, `field "status" is "down", want one of ["ok"]`},
		{"status", []string{"ok"}, `{}`, `no field "status"`},
		{"checks.db.up", []string{"true"}, `{"checks":{"db":{"up":true}}}`, ""},
		{"checks.db.up", []string{"true"}, `{"checks":{"db":{"up":false}}}`, `is "false"`},
		{"checks.db.up", nil, `{"checks":["db"]}`, `no field "checks.db.up"`},
		{"count", []string{"3"}, `{"count":3}`, ""},
		{"count", []string{"3"}, `{"count":3.0}`, `is "3.0"`},
		{"", nil, `[1,2]`, ""},
		{"", nil, `<html>Bad Gateway</html>`, "body is not JSON"},
		{"status", []string{"ok"}, `{"status":"` + strings.Repeat("x", 500) + `"}`, `…", want`},
	}
	for _, tt := range tests {
		err := health.JSONField(tt.path, tt.accept...)([]byte(tt.body))
		if tt.want == "" {
			assert.NoError(t, err, "%s in %s", tt.path, tt.body)
		} else {
			assert.ErrorContains(t, err, tt.want, "%s in %s", tt.path, tt.body)
		}
	}
}

func FuzzJSONField(f *testing.F) {
	f.Add("status", "ok", []byte(`{"status":"ok"}`))
	f.Add("a.b", "1", []byte(`{"a":{"b":1}}`))
	f.Add("", "", []byte(`null`))
	f.Add("x..y", "true", []byte(`{"x":{"":{"y":true}}}`))
	f.Add("s", "", []byte("\xff{"))
	f.Fuzz(func(t *testing.T, path, accept string, body []byte) {
		var opts []string
		if accept != "" {
			opts = []string{accept}
		}
		err := health.JSONField(path, opts...)(body) // must not panic
		if err != nil && !strings.HasPrefix(err.Error(), "health: ") {
			t.Fatalf("error without package prefix: %v", err)
		}
	})
}
