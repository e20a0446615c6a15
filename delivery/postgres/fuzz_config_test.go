package postgres_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery/postgres"
)

// FuzzConfig: New and NewRetention return an error wrapping ErrConfig, or
// a value, for any names, durations and sizes. Neither touches the
// database, so the pool is never dialled and no server is needed.
func FuzzConfig(f *testing.F) {
	for _, v := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64, math.MaxInt64 / 2} {
		f.Add("outbound", "outbox", v, v, v, v, int(v))
		f.Add("", "", int64(0), v, int64(time.Hour), int64(0), 0)
	}
	f.Add("Bad-Schema", "x;drop", int64(0), int64(0), int64(1), int64(1), 1)
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	require.NoError(f, err)
	f.Cleanup(pool.Close)
	f.Fuzz(func(t *testing.T, schema, table string, poll, reconnect, maxAge, interval int64, batch int) {
		s, err := postgres.New(postgres.Config{Pool: pool, Schema: schema, Table: table,
			PollInterval: time.Duration(poll), MaxReconnectDelay: time.Duration(reconnect)})
		if err != nil {
			assert.ErrorIs(t, err, postgres.ErrConfig)
		} else {
			require.NoError(t, s.Close())
		}
		_, err = postgres.NewRetention(postgres.RetentionConfig{Store: &countingPurger{}, MaxAge: time.Duration(maxAge),
			Interval: time.Duration(interval), BatchSize: batch})
		if err != nil {
			assert.ErrorIs(t, err, postgres.ErrConfig)
		}
	})
}
