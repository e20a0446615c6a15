package logging

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/outbound-go/outbound/health"
)

func TestRedactMemoAnswersLikeRedactAndStaysBounded(t *testing.T) {
	var r redactMemo
	texts := []string{
		"ephemeral: http 503 Service Unavailable",
		`permanent: http 401: body "Authorization: Bearer abcdefgh12345678"`,
		"Get https://u:pw@partner.example/x?api_key=secret: EOF",
		strings.Repeat("x token=abc ", 100), // longer than the memo keeps
	}
	for range 3 {
		for _, s := range texts {
			assert.Equal(t, health.Redact(s), r.redact(s))
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				s := fmt.Sprintf("error %d-%d token=t%d", g, i, i)
				if got := r.redact(s); got != health.Redact(s) {
					t.Errorf("redact(%q) = %q", s, got)
					return
				}
			}
		})
	}
	wg.Wait()
	n := 0
	r.m.Range(func(_, _ any) bool { n++; return true })
	assert.LessOrEqual(t, n, redactMemoEntries+4, "bounded, give or take concurrent stores")
}
