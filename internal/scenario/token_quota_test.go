package scenario_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/deliverytest"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/internal/testenv"
	"github.com/outbound-go/outbound/tokencache"
	tcpostgres "github.com/outbound-go/outbound/tokencache/postgres"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// Seed 000 §4, the token quota: "the Cappfinity team called us up to say
// that we had maxed out their M2M Auth0 tokens ... the token was not only
// generated each time we processed records, but for each individual record
// itself." The lesson: one token per lifetime, shared by every worker and
// every process. Four dispatchers (four "processes", each with its own
// Cache, client and connection pool) deliver 5,000 records through
// tokencache.Transport against a partner that demands the issuer's tokens:
// the issuer mints exactly one token per expiry window between them.
func TestOneTokenPerExpiryAcrossDispatchers(t *testing.T) {
	t.Run("MemoryStoreTwoExpiryWindows", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			issuer := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: time.Hour, ClientID: "koru", ClientSecret: "s3cret"})
			partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{
				InMemory: true, Issuer: issuer, Latency: 5 * time.Millisecond,
			})
			shared := &tokencache.MemoryStore{}
			fleet := newFleet(t, partner, issuer, []tokencache.Store{shared, shared, shared, shared})

			fleet.deliver(t, backlog("morning", 2500, nil))
			assert.Equal(t, 1, issuer.Mints(), "one token for 2,500 records across 4 dispatchers")

			time.Sleep(time.Hour) // the token expires
			fleet.deliver(t, backlog("evening", 2500, nil))
			assert.Equal(t, 2, issuer.Mints(), "exactly one more token in the next expiry window")

			fleet.check(t, 5000, issuer.Mints())
		})
	})

	t.Run("PostgresStore", func(t *testing.T) {
		url := testenv.PostgresURL(t)
		admin, err := pgxpool.New(t.Context(), url)
		require.NoError(t, err)
		t.Cleanup(admin.Close)
		schema := testenv.UniqueName(t, "scenario")
		_, err = admin.Exec(t.Context(), `CREATE SCHEMA `+schema)
		require.NoError(t, err)
		t.Cleanup(func() {
			_, err := admin.Exec(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
			assert.NoError(t, err)
		})
		stores := make([]tokencache.Store, 4)
		for i := range stores { // one pool per "process"
			pool, err := pgxpool.New(t.Context(), url)
			require.NoError(t, err)
			t.Cleanup(pool.Close)
			s, err := tcpostgres.New(pool, tcpostgres.Config{Table: schema + ".tokens"})
			require.NoError(t, err)
			stores[i] = s
		}
		require.NoError(t, stores[0].(*tcpostgres.Store).Migrate(t.Context()))

		issuer := tokentest.NewIssuer(tokentest.IssuerConfig{TTL: time.Hour, ClientID: "koru", ClientSecret: "s3cret"})
		partner := deliverytest.StartPartner(t, deliverytest.PartnerConfig{Issuer: issuer})
		fleet := newFleet(t, partner, issuer, stores)
		fleet.deliver(t, backlog("cand", 5000, nil))
		assert.Equal(t, 1, issuer.Mints(), "one token for 5,000 records across 4 processes")
		fleet.check(t, 5000, 1)
	})
}

// fleet is four dispatchers over one outbox, each with its own token cache
// on a shared token store, like four instances of one service.
type fleet struct {
	store       *memstore.Store
	dispatchers []*delivery.Dispatcher
	observers   []*deliverytest.Observer
	partner     *deliverytest.Partner
}

func newFleet(t *testing.T, partner *deliverytest.Partner, issuer *tokentest.Issuer, stores []tokencache.Store) *fleet {
	t.Helper()
	f := &fleet{store: memstore.New(memstore.Config{}), partner: partner}
	for _, ts := range stores {
		cache, err := tokencache.New(
			tokencache.ClientCredentials(issuer.Config(partner.TokenURL()), partner.Client()),
			tokencache.Config{Store: ts, Key: "cappfinity"},
		)
		require.NoError(t, err)
		t.Cleanup(func() { _ = cache.Close() })
		client := partnerClient(t, partner, 8)
		client.Transport = &tokencache.Transport{Base: client.Transport, Cache: cache}
		obs := &deliverytest.Observer{}
		f.observers = append(f.observers, obs)
		f.dispatchers = append(f.dispatchers, newDispatcher(t, delivery.DispatcherConfig{
			Store: f.store, Deliverer: sender(t, partner, client), Concurrency: 8, Observer: obs,
		}))
	}
	return f
}

// deliver enqueues msgs and runs every dispatcher at once until none finds
// work.
func (f *fleet) deliver(t *testing.T, msgs []delivery.Message) {
	t.Helper()
	enqueue(t, f.store, msgs...)
	before := make([]int, len(f.observers))
	for i, o := range f.observers {
		before[i] = len(o.Events())
	}
	errs := make([]error, len(f.dispatchers))
	var wg sync.WaitGroup
	for i, d := range f.dispatchers {
		wg.Go(func() {
			for {
				rep, err := d.RunOnce(context.Background())
				if err != nil || rep.Claimed == 0 {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	for i, o := range f.observers {
		assert.Greater(t, len(o.Events()), before[i], "dispatcher %d took part", i)
	}
}

// check asserts that every record was delivered once, with a valid token,
// and that the partner saw exactly tokens distinct tokens.
func (f *fleet) check(t *testing.T, records, tokens int) {
	t.Helper()
	assert.EqualValues(t, records, stats(t, f.store).Count(delivery.StateDelivered))
	ps := f.partner.Stats()
	assert.Equal(t, records, ps.Requests, "no request was refused and retried")
	assert.Zero(t, ps.Unauthorized)
	assert.Equal(t, records, f.partner.Delivered())
	seen := map[string]int{}
	for _, r := range f.partner.Requests() {
		require.True(t, r.Auth.Valid, "request %d carried %v", r.Seq, r.Auth)
		seen[r.Auth.Fingerprint]++
	}
	assert.Len(t, seen, tokens, "the partner saw one token per mint: %v", fmt.Sprint(seen))
}
