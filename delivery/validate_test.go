package delivery_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpdelivery"
	"github.com/outbound-go/outbound/delivery/memstore"
)

func TestValidateMessageAcceptsSendableMessages(t *testing.T) {
	for _, m := range []delivery.Message{
		{ID: "m1", Payload: []byte("x")},
		{ID: "m2", Key: "order 42", IdempotencyKey: "idem-1", CorrelationID: "corr-1", Destination: "ats-acme", Payload: []byte("x"),
			Headers: map[string]string{
				"X-Tenant":          "acme",
				"X-Note":            "tab\tis fine",
				"X-Name":            "Zoë ☕", // UTF-8 is text, not control
				"X-Custom!#$%&'*+.": "token characters in a name",
				"X-Empty":           "",
			}},
	} {
		assert.NoError(t, delivery.ValidateMessage(&m), "%+v", m.Headers)
	}
}

// Every one of these used to enqueue and then fail each attempt in
// net/http as "invalid header field value", retried as Ephemeral for a day.
func TestValidateMessageRefusesWhatCannotBeSent(t *testing.T) {
	const secret = "Bearer s3cr3t-value"
	cases := []struct {
		name    string
		m       delivery.Message
		mention string
	}{
		{"CRLF in a header value", delivery.Message{Headers: map[string]string{"X-Sig": secret + "\r\nX-Injected: 1"}}, `header "X-Sig" value has a control character`},
		{"LF in a header value", delivery.Message{Headers: map[string]string{"X-A": "a\nb"}}, `"X-A"`},
		{"NUL in a header value", delivery.Message{Headers: map[string]string{"X-A": "a\x00b"}}, `"X-A"`},
		{"DEL in a header value", delivery.Message{Headers: map[string]string{"X-A": "a\x7fb"}}, `"X-A"`},
		{"C1 control in a header value", delivery.Message{Headers: map[string]string{"X-A": "a\u0085b"}}, `"X-A"`},
		{"invalid UTF-8 in a header value", delivery.Message{Headers: map[string]string{"X-A": "a\xffb"}}, `"X-A" value is not valid text`},
		{"space in a header name", delivery.Message{Headers: map[string]string{"X Tenant": "acme"}}, `header name "X Tenant"`},
		{"colon in a header name", delivery.Message{Headers: map[string]string{"X-Tenant:": "acme"}}, `header name "X-Tenant:"`},
		{"CRLF in a header name", delivery.Message{Headers: map[string]string{"X-A\r\nX-B": "v"}}, `header name`},
		{"non-ASCII header name", delivery.Message{Headers: map[string]string{"X-Zoë": "v"}}, `header name`},
		{"newline in IdempotencyKey", delivery.Message{IdempotencyKey: "idem\n1"}, "IdempotencyKey"},
		{"CR in CorrelationID", delivery.Message{CorrelationID: "corr\r1"}, "CorrelationID"},
		{"tab in CorrelationID", delivery.Message{CorrelationID: "corr\t1"}, "CorrelationID"},
		{"newline in ID (the default Idempotency-Key)", delivery.Message{ID: "id\n1"}, "ID"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.m
			if m.ID == "" {
				m.ID = "m"
			}
			m.Payload = []byte("x")
			err := delivery.ValidateMessage(&m)
			require.Error(t, err)
			assert.True(t, errors.Is(err, delivery.ErrInvalid), "err: %v", err)
			assert.Contains(t, err.Error(), tc.mention)
			assert.NotContains(t, err.Error(), "s3cr3t", "header values are never quoted")
		})
	}
}

func TestValidateMessageKeepsOtherFieldsLenient(t *testing.T) {
	// Key and Destination are not sent as headers: only NUL and invalid
	// UTF-8 are refused there, as before.
	m := delivery.Message{ID: "m", Key: "line\none", Destination: "a\tb", Payload: []byte("x")}
	assert.NoError(t, delivery.ValidateMessage(&m))
	m.Key = strings.Repeat("k", delivery.MaxIDBytes+1)
	assert.ErrorIs(t, delivery.ValidateMessage(&m), delivery.ErrTooLarge)
}

var errDialed = errors.New("dialed")

// FuzzValidateMessageAgreesWithNetHTTP checks that what ValidateMessage
// accepts, net/http sends: a request carrying an accepted message's
// headers gets as far as dialling.
func FuzzValidateMessageAgreesWithNetHTTP(f *testing.F) {
	for _, s := range [][3]string{
		{"X-Tenant", "acme", "idem-1"}, {"X Bad", "v", ""}, {"X-A", "a\r\nb", ""}, {"X-A", "tab\there", "k"},
		{"X-A", "Zoë", "k\n"}, {"X-A", "\u0085", ""}, {"!#$%&'*+-.^_`|~", "v", "é"}, {"X-A", "a\x7f", ""},
	} {
		f.Add(s[0], s[1], s[2])
	}
	tr := &http.Transport{DialContext: func(context.Context, string, string) (net.Conn, error) { return nil, errDialed }}
	d, err := httpdelivery.New(httpdelivery.Config{Client: &http.Client{Transport: tr},
		Build: httpdelivery.PostTo("http://partner.example/hook", "text/plain")})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, name, value, idem string) {
		m := delivery.Message{ID: "m", IdempotencyKey: idem, Payload: []byte("x"), Headers: map[string]string{name: value}}
		if delivery.ValidateMessage(&m) != nil {
			return
		}
		if err := d.Deliver(context.Background(), &m); !errors.Is(err, errDialed) {
			t.Fatalf("accepted at enqueue but not sendable: headers %q, key %q: %v", m.Headers, idem, err)
		}
	})
}

// Headers the transport owns used to pass validation and then fail every
// attempt over HTTP/2 (Connection, Upgrade, Transfer-Encoding), retried as
// Ephemeral until dead-lettered, or be dropped or overridden silently
// (Host, Content-Length). Enqueue refuses them; a record stored before is
// refused by the HTTP deliverer as Permanent, before anything is sent.
func TestTransportHeadersAreRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("a request with a transport header was sent: %v", r.Header)
	}))
	defer srv.Close()
	d, err := httpdelivery.New(httpdelivery.Config{Client: srv.Client(), Build: httpdelivery.PostTo(srv.URL, "text/plain")})
	require.NoError(t, err)
	store := memstore.New(memstore.Config{})

	for _, h := range []struct{ name, value string }{
		{"Connection", "close"},
		{"connection", "upgrade"},
		{"Keep-Alive", "timeout=5"},
		{"Proxy-Connection", "keep-alive"},
		{"Transfer-Encoding", "chunked"},
		{"Upgrade", "websocket"},
		{"TE", "gzip"},
		{"Host", "internal.example"},
		{"Content-Length", "12"},
		{"Trailer", "X-Checksum"},
	} {
		t.Run(h.name, func(t *testing.T) {
			m := delivery.Message{ID: "m-" + h.name, Payload: []byte("x"), Headers: map[string]string{h.name: h.value}}
			err := delivery.ValidateMessage(&m)
			require.ErrorIs(t, err, delivery.ErrInvalid)
			assert.Contains(t, err.Error(), "set by the HTTP transport")

			_, err = store.Enqueue(t.Context(), m)
			require.ErrorIs(t, err, delivery.ErrInvalid, "Enqueue must refuse it")

			err = d.Deliver(t.Context(), &m)
			require.Error(t, err)
			assert.Equal(t, classify.ClassPermanent, classify.Of(err), "err: %v", err)
		})
	}
	// TE: trailers is the one TE value HTTP/2 allows.
	ok := delivery.Message{ID: "te", Payload: []byte("x"), Headers: map[string]string{"TE": "trailers"}}
	assert.NoError(t, delivery.ValidateMessage(&ok))
}
