package classify_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/classify"
)

// realFailure produces an error by doing the failing thing for real.
type realFailure struct {
	name  string
	make  func(t *testing.T) error
	class classify.Class
	cause string
}

func TestOfRealFailures(t *testing.T) {
	cases := []realFailure{
		{"dial closed port", dialClosedPort, classify.ClassEphemeral, "conn_refused"},
		{"server resets connection", getFromResettingServer, classify.ClassEphemeral, "conn_reset"},
		{"untrusted TLS certificate", getFromUntrustedTLS, classify.ClassPermanent, "tls_cert"},
		{"TLS to plain HTTP server", tlsToPlainServer, classify.ClassPermanent, "tls"},
		{"body cut short", readTruncatedBody, classify.ClassEphemeral, "eof"},
		{"server closes without response", getFromClosingServer, classify.ClassEphemeral, "eof"},
		{"client timeout", getWithClientTimeout, classify.ClassEphemeral, "deadline"},
		{"socket read deadline", readPastDeadline, classify.ClassEphemeral, "timeout"},
		{"per-attempt deadline", getWithAttemptDeadline, classify.ClassEphemeral, "deadline"},
		{"caller cancels", getWithCanceledContext, classify.ClassUnavailable, "canceled"},
		{"broken pipe", writeToClosedPeer, classify.ClassEphemeral, "broken_pipe"},
		{"DNS resolver failure", lookupWithDeadResolver, classify.ClassEphemeral, "dns"},
		{"DNS NXDOMAIN for a name", lookupNXDOMAIN, classify.ClassEphemeral, "dns"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.make(t)
			require.Error(t, err)
			assert.Equal(t, tc.class, classify.Of(err), "error: %v", err)
			assert.Equal(t, tc.cause, classify.Cause(err), "error: %v", err)
		})
	}
}

func TestOfConstructedErrors(t *testing.T) {
	base := errors.New("boom")
	cases := []struct {
		name  string
		err   error
		class classify.Class
		cause string
	}{
		{"nil", nil, classify.ClassOK, "ok"},
		{"unknown error", base, classify.ClassEphemeral, "other"},
		{"explicit permanent", classify.Permanent(base), classify.ClassPermanent, "other"},
		{"explicit discard", classify.Discard(base), classify.ClassDiscard, "other"},
		{"explicit duplicate", classify.Duplicate(base), classify.ClassDuplicate, "other"},
		{"explicit unavailable", classify.Unavailable(base), classify.ClassUnavailable, "other"},
		{"wrapped explicit", fmt.Errorf("send: %w", classify.Permanent(base)), classify.ClassPermanent, "other"},
		{"outermost class wins", classify.Discard(fmt.Errorf("x: %w", classify.Ephemeral(base))), classify.ClassDiscard, "other"},
		{"explicit over canceled", classify.Permanent(context.Canceled), classify.ClassPermanent, "canceled"},
		{"status decides cause", &classify.Error{Class: classify.ClassEphemeral, Status: 503}, classify.ClassEphemeral, "http_503"},
		{"class without cause", classify.New(classify.ClassUnavailable, nil), classify.ClassUnavailable, "unavailable"},
		{"dns not found", &net.DNSError{Err: "no such host", Name: "partner.example", IsNotFound: true}, classify.ClassEphemeral, "dns"},
		{"dns temporary", &net.DNSError{Err: "server misbehaving", Name: "partner.example", IsTemporary: true}, classify.ClassEphemeral, "dns"},
		{"url error around reset", &url.Error{Op: "Post", URL: "https://p.example", Err: &net.OpError{Op: "read", Err: syscall.ECONNRESET}}, classify.ClassEphemeral, "conn_reset"},
		{"unreachable", &net.OpError{Op: "dial", Err: syscall.EHOSTUNREACH}, classify.ClassEphemeral, "unreachable"},
		{"other op error", &net.OpError{Op: "dial", Err: errors.New("weird")}, classify.ClassEphemeral, "network"},
		{"unexpected EOF", fmt.Errorf("read body: %w", io.ErrUnexpectedEOF), classify.ClassEphemeral, "eof"},
		{"unknown authority", &url.Error{Op: "Get", URL: "https://p", Err: x509.UnknownAuthorityError{}}, classify.ClassPermanent, "tls_cert"},
		{"hostname mismatch", x509.HostnameError{Host: "p.example"}, classify.ClassPermanent, "tls_cert"},
		{"expired certificate", x509.CertificateInvalidError{Reason: x509.Expired}, classify.ClassPermanent, "tls_cert"},
		{"joined errors use first explicit", errors.Join(base, classify.Discard(base)), classify.ClassDiscard, "other"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.class, classify.Of(tc.err))
			assert.Equal(t, tc.cause, classify.Cause(tc.err))
		})
	}
}

func TestConstructorsReturnNilForNil(t *testing.T) {
	for _, f := range []func(error) error{classify.Permanent, classify.Ephemeral, classify.Discard, classify.Duplicate, classify.Unavailable} {
		assert.NoError(t, f(nil))
	}
	assert.NoError(t, classify.WithRetryAfter(nil, time.Second))
}

func TestErrorUnwrapsToCause(t *testing.T) {
	err := fmt.Errorf("deliver: %w", classify.Permanent(io.ErrClosedPipe))
	assert.ErrorIs(t, err, io.ErrClosedPipe)
	var ce *classify.Error
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, classify.ClassPermanent, ce.Class)
}

func TestRetryAfterAndStatusHelpers(t *testing.T) {
	inner := &classify.Error{Class: classify.ClassEphemeral, Status: 429, RetryAfter: 30 * time.Second}
	outer := classify.Unavailable(fmt.Errorf("gated: %w", inner))
	d, ok := classify.RetryAfter(outer)
	assert.True(t, ok)
	assert.Equal(t, 30*time.Second, d)
	assert.Equal(t, 429, classify.Status(outer))
	assert.Equal(t, classify.ClassUnavailable, classify.Of(outer))

	_, ok = classify.RetryAfter(errors.New("plain"))
	assert.False(t, ok)
	assert.Zero(t, classify.Status(errors.New("plain")))

	marked := classify.WithRetryAfter(classify.Ephemeral(io.EOF), time.Minute)
	d, ok = classify.RetryAfter(marked)
	assert.True(t, ok)
	assert.Equal(t, time.Minute, d)
	assert.Equal(t, classify.ClassEphemeral, classify.Of(marked))
}

func TestErrorMessage(t *testing.T) {
	e := &classify.Error{Class: classify.ClassEphemeral, Status: 503, RetryAfter: 2 * time.Second,
		Err: errors.New("upstream"), Body: `{"error":"maintenance"}`}
	assert.Equal(t, `ephemeral: http 503 Service Unavailable (retry after 2s): upstream: body "{\"error\":\"maintenance\"}"`, e.Error())
	assert.Equal(t, "permanent: x", classify.Permanent(errors.New("x")).Error())
}

func TestClassNames(t *testing.T) {
	for _, c := range classify.Classes {
		text, err := c.MarshalText()
		require.NoError(t, err)
		var back classify.Class
		require.NoError(t, back.UnmarshalText(text))
		assert.Equal(t, c, back)
		assert.Equal(t, c.String(), string(text))
	}
	assert.Equal(t, "class(42)", classify.Class(42).String())
	_, err := classify.Class(42).MarshalText()
	assert.Error(t, err)
	_, err = classify.ParseClass("nope")
	assert.ErrorContains(t, err, `"nope"`)

	assert.True(t, classify.ClassEphemeral.Retryable())
	assert.True(t, classify.ClassUnavailable.Retryable())
	assert.False(t, classify.ClassPermanent.Retryable())
	assert.False(t, classify.ClassUnavailable.CountsAttempt())
	assert.True(t, classify.ClassDiscard.CountsAttempt())
	assert.True(t, classify.ClassDuplicate.Delivered())
	assert.False(t, classify.ClassDiscard.Delivered())
}

// --- real failures ---

func dialClosedPort(t *testing.T) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = http.Get("http://" + addr + "/")
	return err
}

func getFromResettingServer(t *testing.T) error {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		_ = conn.(*net.TCPConn).SetLinger(0) // close with RST
		_ = conn.Close()
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, err := client.Get(srv.URL)
	return err
}

func getFromUntrustedTLS(t *testing.T) error {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	srv.Config.ErrorLog = quietLog()
	_, err := (&http.Client{}).Get(srv.URL) // default roots do not trust httptest's certificate
	return err
}

func tlsToPlainServer(t *testing.T) error {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	u := "https://" + srv.Listener.Addr().String()
	_, err := (&http.Client{}).Get(u)
	return err
}

func readTruncatedBody(t *testing.T) error {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		_, _ = w.Write([]byte("only ten b"))
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return err
}

func getFromClosingServer(t *testing.T) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 1024)
			_, _ = c.Read(buf) // read the request, answer nothing
			_ = c.Close()
		}
	}()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	_, err = client.Get("http://" + ln.Addr().String())
	return err
}

func hangingServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return srv
}

func getWithClientTimeout(t *testing.T) error {
	srv := hangingServer(t)
	client := &http.Client{Timeout: 20 * time.Millisecond}
	_, err := client.Get(srv.URL)
	return err
}

func readPastDeadline(t *testing.T) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c) // never answers
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Millisecond)))
	_, err = conn.Read(make([]byte, 1))
	return err
}

func getWithAttemptDeadline(t *testing.T) error {
	srv := hangingServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	_, err = http.DefaultClient.Do(req)
	return err
}

func getWithCanceledContext(t *testing.T) error {
	srv := hangingServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	_, err = http.DefaultClient.Do(req)
	return err
}

func writeToClosedPeer(t *testing.T) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer conn.Close()
	peer := <-accepted
	_ = peer.(*net.TCPConn).SetLinger(0)
	require.NoError(t, peer.Close())
	// The first writes may succeed before the RST arrives; keep writing
	// until the kernel reports the broken connection.
	buf := make([]byte, 64<<10)
	for range 1000 {
		if _, err = conn.Write(buf); err != nil {
			if errors.Is(err, syscall.ECONNRESET) {
				// Some kernels report the reset instead of EPIPE on
				// the first failing write; the next one is EPIPE.
				continue
			}
			return err
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("writes to a reset peer never failed")
	return nil
}

func lookupWithDeadResolver(t *testing.T) error {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		return nil, errors.New("no resolver reachable")
	}}
	_, err := r.LookupHost(context.Background(), "partner.example")
	return err
}

// lookupNXDOMAIN resolves a name through a local DNS server that answers
// every query with NXDOMAIN, as the overloaded resolvers of seed 004 did for
// names that existed: the Go resolver reports "no such host" (IsNotFound).
func lookupNXDOMAIN(t *testing.T) error {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			// The query with its header turned into a response: QR set,
			// RD kept, RA set, RCODE 3 (NXDOMAIN), no answers.
			resp := append([]byte(nil), buf[:n]...)
			resp[2] = 0x80 | buf[2]&0x01
			resp[3] = 0x80 | 3
			_, _ = pc.WriteTo(resp, from)
		}
	}()
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = r.LookupHost(ctx, "partner.example.")
	var dnsErr *net.DNSError
	require.ErrorAs(t, err, &dnsErr)
	require.True(t, dnsErr.IsNotFound, "the server's answer reached the resolver as NXDOMAIN: %v", err)
	return err
}

type namedCause struct{ error }

func (namedCause) OutcomeCause() string { return "breaker_open" }

func TestCauserNamesTheCause(t *testing.T) {
	named := namedCause{errors.New("open")}
	assert.Equal(t, "breaker_open", classify.Cause(classify.Unavailable(fmt.Errorf("gate: %w", named))))
	assert.Equal(t, classify.ClassUnavailable, classify.Of(classify.Unavailable(named)))
	assert.Equal(t, "breaker_open", classify.Cause(fmt.Errorf("x: %w", named)))
	assert.Equal(t, classify.ClassEphemeral, classify.Of(named), "a name does not change the class")
	status := &classify.Error{Class: classify.ClassEphemeral, Status: 503, Err: named}
	assert.Equal(t, "http_503", classify.Cause(status), "a status outside the Causer wins")
}
