package tokencache_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/tokencache"
)

const secretValue = "s3cr3t-t0ken-value"

func TestTokenNeverPrintsValue(t *testing.T) {
	tok := tokencache.Token{Value: secretValue, Type: "bearer", Expiry: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	type wrapper struct {
		Tok  tokencache.Token
		Ptr  *tokencache.Token
		List []tokencache.Token
	}
	w := wrapper{Tok: tok, Ptr: &tok, List: []tokencache.Token{tok}}

	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v", "%T"} {
		outputs = append(outputs, fmt.Sprintf(verb, tok), fmt.Sprintf(verb, &tok), fmt.Sprintf(verb, w))
	}
	outputs = append(outputs, fmt.Sprint(tok), fmt.Sprintln(tok), tok.String(), tok.GoString())
	js, err := json.Marshal(w)
	require.NoError(t, err)
	outputs = append(outputs, string(js))
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("m", "tok", tok, "ptr", &tok, "w", w)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("m", "tok", tok, "ptr", &tok)
	outputs = append(outputs, buf.String())
	func() {
		defer func() { outputs = append(outputs, fmt.Sprint(recover())) }()
		panic(tok)
	}()

	for _, out := range outputs {
		require.NotContains(t, out, secretValue)
	}
	require.Equal(t, "Token{Type: Bearer, Expiry: 2030-01-02T03:04:05Z, Value: [redacted]}", tok.String())
	require.Equal(t, "Token{Type: Bearer, Expiry: none, Value: none}", tokencache.Token{}.String())
	require.Contains(t, string(js), `"value":"[redacted]"`)
	require.Contains(t, buf.String(), `"tok":{"type":"Bearer","expiry":"2030-01-02T03:04:05Z","value":"[redacted]"}`)
}

func TestTokenSetAuthHeader(t *testing.T) {
	for typ, want := range map[string]string{"": "Bearer", "bearer": "Bearer", "BEARER": "Bearer", "mac": "MAC", "Basic": "Basic", "DPoP": "DPoP"} {
		r := httptest.NewRequest("GET", "http://example.invalid/", nil)
		tokencache.Token{Value: "v", Type: typ}.SetAuthHeader(r)
		require.Equal(t, want+" v", r.Header.Get("Authorization"), "type %q", typ)
	}
}
