package tokencache_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/outbound-go/outbound/tokencache"
)

const (
	echoedClientID = "svc-account"
	echoedSecret   = "Zq7s3cr3tXy9"
)

// echoedBasic is the Basic credential x/oauth2 sends for the client.
var echoedBasic = base64.StdEncoding.EncodeToString([]byte(echoedClientID + ":" + echoedSecret))

// echoingIssuers are token endpoints that fail and echo the client's
// credentials back in every way seen in the wild.
var echoingIssuers = []struct {
	name        string
	status      int
	contentType string
	body        string
	code        string // the OAuth2 error code, if the body has one
}{
	{"500 echoing the form and the header", http.StatusInternalServerError, "text/plain",
		"upstream failed for grant_type=client_credentials&client_secret=" + echoedSecret +
			"\nAuthorization: Basic " + echoedBasic, ""},
	{"400 with the secret in error_description", http.StatusBadRequest, "application/json",
		`{"error":"invalid_client","error_description":"client secret ` + echoedSecret + ` does not match svc-account"}`, "invalid_client"},
	{"401 with the Basic credential in error_description", http.StatusUnauthorized, "application/json",
		`{"error":"invalid_client","error_description":"credential ` + echoedBasic + ` rejected"}`, "invalid_client"},
	{"500 with a 1 MiB page", http.StatusInternalServerError, "text/html",
		"<html><p>client_secret=" + echoedSecret + "</p>" + strings.Repeat("<p>stack frame</p>", (1<<20)/18) +
			"<p>" + echoedSecret + "</p></html>", ""},
	{"503 with the secret as plain words in a JSON body", http.StatusServiceUnavailable, "application/json",
		`{"error":"temporarily_unavailable","error_description":"retry; we logged your request: ` + echoedSecret + `"}`, "temporarily_unavailable"},
}

func echoingIssuer(t *testing.T, status int, contentType, body string) *clientcredentials.Config {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return &clientcredentials.Config{ClientID: echoedClientID, ClientSecret: echoedSecret,
		TokenURL: srv.URL + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader}
}

// requireNoSecret fails if s holds the client secret or its Basic
// credential.
func requireNoSecret(t *testing.T, s, where string) {
	t.Helper()
	require.NotContains(t, s, echoedSecret, "the client secret reached %s", where)
	require.NotContains(t, s, echoedBasic, "the Basic credential reached %s", where)
}

// TestIssuerSecretsNeverLeaveTheSource: an issuer that fails and echoes the
// client's secret (a form, a Basic header, an error_description, a 1 MiB
// error page) does not get it into the error ClientCredentials returns,
// the error the Cache returns, or an Event logged with slog.Any; and the
// error text stays bounded however large the issuer's answer.
func TestIssuerSecretsNeverLeaveTheSource(t *testing.T) {
	for _, tc := range echoingIssuers {
		t.Run(tc.name, func(t *testing.T) {
			cfg := echoingIssuer(t, tc.status, tc.contentType, tc.body)
			src := tokencache.ClientCredentials(cfg, nil)

			_, err := src.Token(t.Context())
			require.Error(t, err)
			requireNoSecret(t, err.Error(), "the source's error")
			requireNoSecret(t, fmt.Sprintf("%v %+v %#v", err, err, err), "the printed error")
			require.LessOrEqual(t, len(err.Error()), tokencache.MaxErrorText)
			require.NotContains(t, err.Error(), "\n", "one line")
			if tc.code != "" {
				require.Contains(t, err.Error(), `"`+tc.code+`"`, "the issuer's error code is kept")
			} else {
				require.Contains(t, err.Error(), fmt.Sprintf("(HTTP %d ", tc.status), "the issuer's status is kept")
			}

			var re *oauth2.RetrieveError
			require.ErrorAs(t, err, &re, "callers still see the issuer's answer")
			require.Equal(t, tc.code, re.ErrorCode)
			require.Equal(t, tc.status, re.Response.StatusCode)
			requireNoSecret(t, re.ErrorDescription+string(re.Body)+re.Error(), "the RetrieveError")
			require.LessOrEqual(t, len(re.Body), tokencache.MaxErrorText)

			var logged bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logged, nil))
			var events []tokencache.Event
			c := newCache(t, src, tokencache.Config{OnEvent: func(e tokencache.Event) {
				events = append(events, e)
				log.Warn("token event", slog.Any("event", e))
			}})
			_, err = c.Token(t.Context())
			require.Error(t, err)
			requireNoSecret(t, err.Error(), "the cache's error")
			require.LessOrEqual(t, len(err.Error()), tokencache.MaxErrorText+200, "the cache's error quotes a bounded text")
			require.Len(t, events, 1)
			require.Equal(t, tokencache.EventMintFailed, events[0].Kind)
			requireNoSecret(t, events[0].Err.Error(), "the event's error")
			requireNoSecret(t, logged.String(), "the log")
			require.Contains(t, logged.String(), `"kind":"mint_failed"`)
			require.Less(t, logged.Len(), 2*tokencache.MaxErrorText, "the log line is bounded")
		})
	}
}

// TestMintErrorOfAnySourceIsRedacted: the cache redacts what is shaped like
// a credential in the error of any Source, not only the ones built here,
// and bounds it, keeping the cause for errors.Is.
func TestMintErrorOfAnySourceIsRedacted(t *testing.T) {
	cause := errors.New("issuer said: client_secret=" + echoedSecret + " Authorization: Basic " + echoedBasic +
		" " + strings.Repeat("x", 1<<20))
	var events []tokencache.Event
	c := newCache(t, tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
		return tokencache.Token{}, cause
	}), tokencache.Config{OnEvent: func(e tokencache.Event) { events = append(events, e) }})
	_, err := c.Token(t.Context())
	require.ErrorIs(t, err, cause)
	requireNoSecret(t, err.Error(), "the cache's error")
	require.Contains(t, err.Error(), "client_secret=[redacted]")
	require.Len(t, events, 1)
	requireNoSecret(t, events[0].Err.Error(), "the event's error")
	require.LessOrEqual(t, len(events[0].Err.Error()), tokencache.MaxErrorText)
}

// TestEventLogValueRedacts: an Event carrying an error that was never made
// safe (a store's, a hand-built one) is redacted and bounded when logged
// with slog.Any, as its doc promises.
func TestEventLogValueRedacts(t *testing.T) {
	raw := errors.New(`redis: dial "redis://user:` + echoedSecret + `@cache:6379": password=` + echoedSecret +
		` Authorization: Basic ` + echoedBasic + " " + strings.Repeat("y", 1<<20))
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Warn("token event",
		slog.Any("event", tokencache.Event{Kind: tokencache.EventStoreError, Key: "partner", Op: "load", Err: raw}))
	requireNoSecret(t, logged.String(), "the log")
	assert.Contains(t, logged.String(), `"op":"load"`)
	assert.Contains(t, logged.String(), "password=[redacted]")
	assert.Less(t, logged.Len(), 2*tokencache.MaxErrorText)
}

// TestMintErrorThatCannotPrint: a Source returning an error whose Error
// method panics (an *oauth2.RetrieveError built without a response) gets a
// plain error from the cache, not a crashed refresh.
func TestMintErrorThatCannotPrint(t *testing.T) {
	c := newCache(t, tokencache.SourceFunc(func(context.Context) (tokencache.Token, error) {
		return tokencache.Token{}, fmt.Errorf("wrapped: %w", &oauth2.RetrieveError{Body: []byte("client_secret=" + echoedSecret)})
	}), tokencache.Config{})
	_, err := c.Token(t.Context())
	require.Error(t, err)
	requireNoSecret(t, err.Error(), "the cache's error")
	var re *oauth2.RetrieveError
	require.ErrorAs(t, err, &re)
	requireNoSecret(t, re.Error(), "the RetrieveError")
}
