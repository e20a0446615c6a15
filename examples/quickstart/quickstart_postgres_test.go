package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/internal/testenv"
)

func init() { servers = append(servers, testenv.Postgres) }

func TestQuickstartPostgres(t *testing.T) {
	cfg := small()
	cfg.postgres = testenv.PostgresURL(t)
	var out bytes.Buffer
	sum, err := run(context.Background(), cfg, &out)
	require.NoError(t, err, out.String())
	assertSummary(t, cfg, sum, out.String())
	assert.Contains(t, out.String(), "outbox: PostgreSQL quickstart_")
}
