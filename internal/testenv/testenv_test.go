package testenv_test

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/internal/testenv"
)

func TestUniqueNameIsAnIdentifier(t *testing.T) {
	t.Run(strings.Repeat("Very Long/Sub-Test Name ", 8), func(t *testing.T) {
		a := testenv.UniqueName(t, "outbox")
		b := testenv.UniqueName(t, "outbox")
		assert.NotEqual(t, a, b)
		assert.LessOrEqual(t, len(a), 63)
		assert.Regexp(t, regexp.MustCompile(`^outbox_[a-z0-9_]+_[0-9a-f]{8}$`), a)
	})
	long := strings.Repeat("p", testenv.MaxPrefix)
	t.Run(strings.Repeat("x", 100), func(t *testing.T) {
		a := testenv.UniqueName(t, long)
		assert.LessOrEqual(t, len(a), 63)
		assert.Regexp(t, regexp.MustCompile(`^`+long+`_x+_[0-9a-f]{8}$`), a)
	})
	// A test name with nothing usable in it leaves prefix and suffix.
	_, got := run("///", func(t testing.TB) string { return testenv.UniqueName(t, "ob") })
	assert.Regexp(t, regexp.MustCompile(`^ob_[0-9a-f]{8}$`), got)
}

// fakeT records how a helper ended the test, without ending this one.
type fakeT struct {
	testing.TB
	name   string
	failed string
	// skipped holds the Skipf message.
	skipped string
}

func (f *fakeT) Helper()      {}
func (f *fakeT) Name() string { return f.name }
func (f *fakeT) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeT) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// run calls fn with a fakeT on its own goroutine, as the testing package
// runs a test, so that Fatalf and Skipf can end it.
func run(name string, fn func(t testing.TB) string) (f *fakeT, result string) {
	f = &fakeT{name: name}
	done := make(chan struct{})
	go func() {
		defer close(done)
		result = fn(f)
	}()
	<-done
	return f, result
}

func TestUniqueNameFailsOnABadPrefixInsteadOfPanicking(t *testing.T) {
	for _, prefix := range []string{strings.Repeat("p", 60), strings.Repeat("p", testenv.MaxPrefix+1), "Outbox", "out-box", "", "9ob"} {
		f, got := run(strings.Repeat("T", 80), func(t testing.TB) string { return testenv.UniqueName(t, prefix) })
		assert.Empty(t, got)
		assert.Contains(t, f.failed, "UniqueName prefix", prefix)
	}
}

func TestMissingServerSkipsOutsideCIAndFailsInCI(t *testing.T) {
	t.Setenv(testenv.PostgresEnv, "")
	t.Setenv(testenv.RedisEnv, "")
	for _, tc := range []struct {
		ci   string
		fail bool
	}{
		{"", false}, {"false", false}, {"0", false}, {"FALSE", false},
		{"true", true}, {"True", true}, {"TRUE", true}, {"1", true}, {"t", true},
		{"yes", true}, // unreadable: a CI set it, so failing beats skipping
	} {
		t.Setenv("CI", tc.ci)
		assert.Equal(t, tc.fail, testenv.InCI(), "CI=%q", tc.ci)
		for _, get := range []func(testing.TB) string{testenv.PostgresURL, testenv.RedisAddr} {
			f, got := run("T", get)
			assert.Empty(t, got)
			if tc.fail {
				assert.Contains(t, f.failed, "is not set but CI="+tc.ci, "CI=%q", tc.ci)
				assert.Empty(t, f.skipped)
			} else {
				assert.Contains(t, f.skipped, "is not set; run with", "CI=%q", tc.ci)
				assert.Empty(t, f.failed)
			}
		}
	}

	t.Setenv("CI", "true")
	t.Setenv(testenv.RedisEnv, "10.9.8.7:6379")
	f, got := run("T", testenv.RedisAddr)
	assert.Equal(t, "10.9.8.7:6379", got)
	require.Empty(t, f.failed)
}
