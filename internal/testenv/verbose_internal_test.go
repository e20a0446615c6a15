package testenv

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVerbose(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"-test.timeout=10m0s"}, false},
		{[]string{"-test.paniconexit0", "-test.v=true"}, true},
		{[]string{"-test.v=test2json"}, true},
		{[]string{"-test.v"}, true},
		{[]string{"--test.v"}, true},
		{[]string{"-test.v=false"}, false},
		{[]string{"-test.vet=off"}, false},
	} {
		assert.Equal(t, tc.want, verbose(tc.args), "%q", tc.args)
	}
}
