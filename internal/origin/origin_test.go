package origin_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/internal/origin"
)

func TestSame(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"https://api.example/a", "https://api.example/b?q=1", true},
		{"https://api.example/a", "https://API.Example.:443/a", true},
		{"http://api.example/a", "http://api.example:80/a", true},
		{"http://127.0.0.1:8080/a", "http://127.0.0.1:8080/b", true},
		{"http://[::1]:8080/a", "http://[::1]:8080/b", true},
		{"https://api.example/a", "https://api.example:8443/a", false},
		{"http://127.0.0.1:8080/a", "http://127.0.0.1:8081/a", false},
		{"http://api.example/a", "https://api.example/a", false},
		{"https://api.example/a", "https://sub.api.example/a", false},
		{"https://api.example/a", "https://evil.example/a", false},
		{"https://api.example/a", "/relative", false},
	} {
		a, err := url.Parse(tc.a)
		assert.NoError(t, err)
		b, err := url.Parse(tc.b)
		assert.NoError(t, err)
		assert.Equal(t, tc.same, origin.Same(a, b), "%s vs %s", tc.a, tc.b)
		assert.Equal(t, tc.same, origin.Same(b, a), "%s vs %s", tc.b, tc.a)
	}
	assert.False(t, origin.Same(nil, nil))
}
