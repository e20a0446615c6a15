package metrics_test

import (
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/delivery/metrics"
)

// TestReadmeMetricTable checks that the metric table of the README's
// Monitoring section lists exactly the metrics a Collector with a store
// describes, so that the documentation cannot drift from the code.
func TestReadmeMetricTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `(outbound_[a-z_]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		documented = append(documented, m[1])
	}
	require.NotEmpty(t, documented, "the README has a metric table")

	c, err := metrics.New(metrics.Config{Store: memstore.New(memstore.Config{})})
	require.NoError(t, err)
	descs := make(chan *prometheus.Desc, 64)
	c.Describe(descs)
	close(descs)
	name := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	var described []string
	for d := range descs {
		m := name.FindStringSubmatch(d.String())
		require.NotNil(t, m, "descriptor %s", d)
		described = append(described, m[1])
	}
	slices.Sort(documented)
	slices.Sort(described)
	assert.Equal(t, described, documented, "README metric table vs Collector.Describe")
}
