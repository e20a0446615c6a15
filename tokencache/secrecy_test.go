package tokencache_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/tokencache"
	"github.com/outbound-go/outbound/tokencache/tokentest"
)

// TestFailureOutputNeverContainsTokens drives the cache through everything
// that goes wrong (mismatched encryption keys, a store that is down, a
// partner rejecting every token, an issuer failing) while logging every
// event and every error the way a service would, then checks that no token
// value and no client secret appears in the output.
func TestFailureOutputNeverContainsTokens(t *testing.T) {
	const clientSecret = "client-secret-do-not-log"
	iss := tokentest.NewIssuer(tokentest.IssuerConfig{ClientID: "svc", ClientSecret: clientSecret})
	issuerSrv := httptest.NewServer(iss)
	defer issuerSrv.Close()
	partnerSrv := httptest.NewServer(iss.Require(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	defer partnerSrv.Close()

	var (
		out    bytes.Buffer
		outMu  sync.Mutex
		minted []string
	)
	log := slog.New(slog.NewJSONHandler(lockedWriter{&out, &outMu}, nil))
	cc := tokencache.ClientCredentials(iss.Config(issuerSrv.URL), issuerSrv.Client())
	src := tokencache.SourceFunc(func(ctx context.Context) (tokencache.Token, error) {
		tok, err := cc.Token(ctx)
		if err == nil {
			outMu.Lock()
			minted = append(minted, tok.Value)
			outMu.Unlock()
		}
		log.Info("minted", "token", tok, "err", err)
		return tok, err
	})
	onEvent := func(e tokencache.Event) { log.Warn("token event", "event", e) }

	shared := &tokencache.MemoryStore{}
	storeA, err := tokencache.NewEncryptedStore(shared, randomKey(t))
	require.NoError(t, err)
	storeB, err := tokencache.NewEncryptedStore(shared, randomKey(t))
	require.NoError(t, err)
	caches := []*tokencache.Cache{
		newCache(t, src, tokencache.Config{Store: storeA, OnEvent: onEvent}),
		newCache(t, src, tokencache.Config{Store: storeB, OnEvent: onEvent}),
		newCache(t, src, tokencache.Config{Store: failingStore{}, OnEvent: onEvent}),
	}

	iss.RejectAll(true)
	iss.FailNext(1) // the first mint fails
	for range 3 {
		for _, c := range caches {
			tok, err := c.Token(t.Context())
			log.Info("token", "token", tok, "err", err, "printed", fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok))
			if err != nil {
				log.Error("token failed", "err", fmt.Sprintf("%+v", err))
			}
			client := &http.Client{Transport: &tokencache.Transport{Base: partnerSrv.Client().Transport, Cache: c}}
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, partnerSrv.URL, strings.NewReader("{}"))
			resp, err := client.Do(req)
			if err != nil {
				log.Error("deliver failed", "err", err, "detail", fmt.Sprintf("%#v", err))
				continue
			}
			log.Warn("deliver", "status", resp.StatusCode, "request_headers", fmt.Sprint(req.Header))
			resp.Body.Close()
			if err := c.Invalidate(t.Context(), tok); err != nil {
				log.Error("invalidate failed", "err", err)
			}
		}
	}

	outMu.Lock()
	defer outMu.Unlock()
	logged := out.String()
	require.NotEmpty(t, minted, "the scenario minted nothing")
	for _, kind := range []string{"store_error", "mint_failed", "invalidated", "minted"} {
		require.Contains(t, logged, `"kind":"`+kind+`"`, "the scenario did not exercise %s", kind)
	}
	require.Contains(t, logged, `"status":401`)
	for _, v := range minted {
		require.False(t, strings.Contains(logged, v), "a token value reached the log")
		sig := v[strings.LastIndexByte(v, '.')+1:]
		require.False(t, strings.Contains(logged, sig), "a token signature reached the log")
	}
	require.NotContains(t, logged, clientSecret)
}

type lockedWriter struct {
	buf *bytes.Buffer
	mu  *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func randomKey(t *testing.T) []byte {
	key := make([]byte, 32)
	_, err := rand.Read(key)
	require.NoError(t, err)
	return key
}
