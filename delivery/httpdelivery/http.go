package httpdelivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/httpclient"
	"github.com/outbound-go/outbound/internal/httpsyntax"
	"github.com/outbound-go/outbound/internal/redact"
	"github.com/outbound-go/outbound/internal/text"
)

// Defaults of Config.
const (
	DefaultIdempotencyHeader = "Idempotency-Key"
	DefaultCorrelationHeader = "X-Correlation-ID"
	// DefaultMaxDrain is how much of an unread response body is discarded
	// so the connection can be reused. Bodies larger than this are closed
	// unread and the transport drops the connection instead.
	DefaultMaxDrain = 256 << 10
	// DefaultMaxDrainTime bounds how long the unread rest of a response
	// body is drained once the outcome is known. A body still arriving
	// after it (a partner trickling bytes) is abandoned with its
	// connection, so it cannot hold a worker until the attempt times out.
	DefaultMaxDrainTime = time.Second
)

// RequestBuilder turns a message into the HTTP request that delivers it. It
// should build the request with ctx (http.NewRequestWithContext). An error
// it returns keeps its class if it has one (return classify.Discard(err) for
// a record that can never be sent) and is Permanent otherwise.
type RequestBuilder func(ctx context.Context, m *delivery.Message) (*http.Request, error)

// PostTo returns a RequestBuilder that POSTs the message payload to rawURL
// with the given Content-Type. The URL is parsed once, here. If it does not
// parse, every request the builder is asked for fails with the same
// Permanent error, which says why without echoing the URL (it may carry a
// key in its query or user info).
func PostTo(rawURL, contentType string) RequestBuilder {
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the url.Error would quote rawURL whole
		}
		bad := classify.Permanent(fmt.Errorf("httpdelivery: PostTo URL %s is invalid: %s", redact.URL(rawURL), redact.Text(err.Error())))
		return func(context.Context, *delivery.Message) (*http.Request, error) { return nil, bad }
	}
	host := strings.TrimSuffix(u.Host, ":")
	return func(ctx context.Context, m *delivery.Message) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", bytes.NewReader(m.Payload))
		if err != nil {
			return nil, err
		}
		// Each request gets its own URL (transports and middleware may
		// change it): the one parsed from "" above, overwritten.
		*req.URL = *u
		req.Host = host
		req.Header["Content-Type"] = []string{contentType} // Set, without canonicalizing the name again
		return req, nil
	}
}

// Config configures an Deliverer. Build is required; every other
// field's zero value selects a default.
type Config struct {
	// Client sends the requests. Share one client across deliverers. Nil
	// means a client from httpclient.New(httpclient.Config{}), created once per
	// deliverer. The deliverer keeps a shallow copy of it (same transport,
	// so the same connections) whose CheckRedirect applies
	// httpclient.CheckRedirect before the client's own: changes made to the client's
	// fields after New are not seen.
	Client *http.Client
	// Build turns a message into a request. Required.
	Build RequestBuilder
	// Rules classify responses. The zero value is the default mapping.
	Rules classify.HTTPRules
	// IdempotencyHeader names the header carrying Message.DeliveryKey().
	// Empty means DefaultIdempotencyHeader; "-" sends none. A value the
	// builder already set is kept.
	IdempotencyHeader string
	// CorrelationHeader names the header carrying the correlation id.
	// Empty means DefaultCorrelationHeader; "-" sends none. A value the
	// builder already set is kept.
	CorrelationHeader string
	// MaxDrain bounds how much unread body is discarded to keep the
	// connection reusable. Zero means DefaultMaxDrain.
	MaxDrain int64
	// MaxDrainTime bounds how long that discarding may take; the request
	// is then cancelled, which closes its connection. Zero means
	// DefaultMaxDrainTime.
	MaxDrainTime time.Duration
}

// Deliverer delivers messages as HTTP requests through one shared
// client. It sets the Idempotency-Key and correlation headers, reads a
// bounded prefix of the response for classification, always drains (within
// MaxDrain bytes and MaxDrainTime) and closes the body so the connection
// is reused, and returns nil or a classified error carrying the status,
// Retry-After and a body snippet. It is safe for concurrent use.
//
// Redirects: whatever client it is given, the deliverer follows a redirect
// only as httpclient.CheckRedirect allows: a 307 or 308 that resends the same method
// and a replayable body to the same origin (scheme, host and port), at
// most MaxRedirects deep, through the client's transport (and so its dial
// guard). Any other redirect, a 301, 302 or 303 to a POST, a 307 or 308
// whose body cannot be replayed or that points to another origin, is not
// followed: the attempt is a Permanent failure whose cause is a
// *httpclient.RedirectError carrying the status and the redacted Location ("the
// partner moved its API to …"), so a record is never marked delivered by an
// answer from a location that did not receive its body, and no header
// (credentials included) reaches another host. To accept a redirect status
// as an answer, map it in Config.Rules.Statuses.
//
// Proxies: a proxy that refuses the request (a CONNECT answered with a
// status other than 200 through a transport from NewTransport, see
// httpclient.CheckProxyConnect, or a 407 Proxy Authentication Required on plain
// http, which only proxies send) did not let the request reach the
// partner. The attempt is then Unavailable, caused by a *httpclient.ProxyError whose
// cause name is "proxy_<status>", rather than classified as the partner's
// answer.
type Deliverer struct {
	client     *http.Client
	build      RequestBuilder
	rules      classify.HTTPRules
	idemHeader string
	corrHeader string
	maxDrain   int64
	drainTime  time.Duration
	readLimit  int
	timeout    *clientTimeout // the client's Timeout, enforced as a deadline; nil for none
}

// New returns a Deliverer for cfg. It returns an error
// naming the field when Build is nil or a setting is invalid (a negative
// size, a header name that is not an RFC 9110 token).
func New(cfg Config) (*Deliverer, error) {
	if cfg.Build == nil {
		return nil, errors.New("httpdelivery: Config.Build is required")
	}
	if cfg.MaxDrain < 0 {
		return nil, fmt.Errorf("httpdelivery: Config.MaxDrain must not be negative, got %d", cfg.MaxDrain)
	}
	if cfg.MaxDrainTime < 0 {
		return nil, fmt.Errorf("httpdelivery: Config.MaxDrainTime must not be negative, got %v", cfg.MaxDrainTime)
	}
	if cfg.Rules.MaxBody < 0 {
		return nil, fmt.Errorf("httpdelivery: Config.Rules.MaxBody must not be negative, got %d", cfg.Rules.MaxBody)
	}
	for _, h := range [...]struct{ field, v string }{
		{"IdempotencyHeader", cfg.IdempotencyHeader}, {"CorrelationHeader", cfg.CorrelationHeader},
	} {
		if h.v != "" && h.v != "-" && !httpsyntax.Token(h.v) {
			return nil, fmt.Errorf("httpdelivery: Config.%s %q is not a valid header name", h.field, h.v)
		}
	}
	d := &Deliverer{
		client:     cfg.Client,
		build:      cfg.Build,
		rules:      cfg.Rules,
		idemHeader: headerName(cfg.IdempotencyHeader, DefaultIdempotencyHeader),
		corrHeader: headerName(cfg.CorrelationHeader, DefaultCorrelationHeader),
		maxDrain:   cfg.MaxDrain,
		drainTime:  cfg.MaxDrainTime,
		readLimit:  cfg.Rules.BodyLimit(),
	}
	if d.maxDrain == 0 {
		d.maxDrain = DefaultMaxDrain
	}
	if d.drainTime == 0 {
		d.drainTime = DefaultMaxDrainTime
	}
	if d.client == nil {
		c, err := httpclient.New(httpclient.Config{})
		if err != nil {
			return nil, err
		}
		d.client = c
	}
	// A copy whose redirect policy is this package's, whoever built the
	// client: a user's client follows 302s to a POST as a GET otherwise.
	own := *d.client
	own.CheckRedirect = httpclient.RedirectPolicy(d.client.CheckRedirect)
	// The client's Timeout becomes the deadline of the context Deliver
	// makes anyway: http.Client would add a second deadline context and
	// timer of its own to every request.
	if own.Timeout > 0 {
		d.timeout = &clientTimeout{d: own.Timeout}
		own.Timeout = 0
	}
	d.client = &own
	return d, nil
}

// headerName returns the canonical form of the configured header name v
// (def when v is empty), or "" for "-". The default is canonicalized too
// (DefaultCorrelationHeader is spelled X-Correlation-ID): request indexes
// req.Header by this key directly, so a non-canonical name would miss.
func headerName(v, def string) string {
	switch v {
	case "":
		v = def
	case "-":
		return ""
	}
	return http.CanonicalHeaderKey(v)
}

// Deliver sends m and classifies the outcome. A builder failure, a nil
// request, and a request that could never be sent (no URL, a scheme other
// than http or https, no host, an invalid method, or a header name that is
// not an RFC 9110 token or a header value with a control character) are
// Permanent errors, found before anything is sent; a builder error that
// has a class keeps it, and one caused by ctx ending stays Unavailable.
// Transport errors keep the class classify.Of infers for them. The text of
// every error Deliver returns is redacted (URL user info, queries and
// secret path segments, credentials; see RedactURL), because it is stored
// on records and logged.
//
// A redirect that was not followed is a Permanent
// *httpclient.RedirectError, and a
// proxy's refusal an Unavailable *httpclient.ProxyError (see Deliverer).
func (d *Deliverer) Deliver(ctx context.Context, m *delivery.Message) error {
	// Cancelling the request is how a drain that takes too long ends; the
	// client's Timeout, if any, is this context's deadline.
	// As net/http does, a caller's deadline that comes first makes it
	// moot (the Dispatcher's AttemptTimeout is shorter by default).
	var cancel context.CancelFunc
	if d.timeout != nil && !endsWithin(ctx, d.timeout.d) {
		ctx, cancel = context.WithTimeoutCause(ctx, d.timeout.d, d.timeout)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	defer cancel()
	req, err := d.request(ctx, m)
	if err != nil {
		return err
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return redactTransportError(d.timedOut(ctx, err))
	}
	body, read := d.readPrefix(ctx, resp)
	if read {
		_ = resp.Body.Close()
	} else {
		d.drainAndClose(resp.Body, cancel)
	}
	// Both reports go to the attempt's recorder; with none, nobody keeps
	// them, and the headers are not parsed.
	if delivery.RecordsResponse(ctx) {
		delivery.ReportResponse(ctx, resp.StatusCode, body)
		if rl, ok := classify.ParseRateLimit(resp.Header, time.Now()); ok {
			delivery.ReportRateLimit(ctx, rl)
		}
	}
	return d.classify(req, resp, body)
}

// classify returns the outcome of a response to req: a proxy's refusal and
// an unfollowed redirect first, then the rules.
func (d *Deliverer) classify(req *http.Request, resp *http.Response, body []byte) error {
	if resp.StatusCode == http.StatusProxyAuthRequired {
		return classify.Unavailable(&httpclient.ProxyError{Status: resp.StatusCode})
	}
	if httpclient.IsRedirect(resp.StatusCode) {
		if _, mapped := d.rules.Statuses[resp.StatusCode]; !mapped {
			return &classify.Error{
				Class:  classify.ClassPermanent,
				Status: resp.StatusCode,
				Body:   text.Snippet(string(body), classify.MaxBodySnippet),
				Err:    httpclient.NewRedirectError(req, resp),
			}
		}
	}
	return d.rules.Classify(resp, body)
}

func (d *Deliverer) request(ctx context.Context, m *delivery.Message) (*http.Request, error) {
	req, err := d.build(ctx, m)
	switch {
	case err != nil:
		err = redactError(fmt.Errorf("httpdelivery: build request for message %q: %w", m.ID, err))
		if !hasExplicitClass(err) && ctx.Err() == nil {
			err = classify.Permanent(err)
		}
		return nil, err
	case req == nil:
		return nil, unsendable(m, "builder returned a nil request")
	case req.URL == nil:
		return nil, unsendable(m, "request has no URL")
	}
	if req.Context() != ctx {
		req = req.WithContext(ctx)
	}
	if req.Header == nil {
		req.Header = make(http.Header)
	}
	for k, v := range m.Headers {
		if httpsyntax.TransportHeader(k, v) { // a record stored before ValidateMessage refused these
			return nil, unsendable(m, fmt.Sprintf("message header %q is set by the HTTP transport, not by a message", k))
		}
		req.Header.Set(k, v)
	}
	// The names are canonical (headerName), so the map is indexed directly:
	// Header.Get and Set would canonicalize them again on every request.
	var idem, corr string
	if d.idemHeader != "" && firstValue(req.Header, d.idemHeader) == "" {
		idem = m.DeliveryKey()
	}
	if d.corrHeader != "" && firstValue(req.Header, d.corrHeader) == "" {
		corr = delivery.CorrelationIDFor(ctx, m)
	}
	if idem != "" || corr != "" {
		// One backing array for both values; each header's slice is
		// capped at its one value, so an append to it copies instead of
		// writing into the other's.
		vals := make([]string, 0, 2)
		if idem != "" {
			vals = append(vals, idem)
			req.Header[d.idemHeader] = vals[0:1:1]
		}
		if corr != "" {
			vals = append(vals, corr)
			n := len(vals)
			req.Header[d.corrHeader] = vals[n-1 : n : n]
		}
	}
	if err := sendable(req); err != nil {
		return nil, unsendable(m, err.Error())
	}
	return req, nil
}

// firstValue is h.Get(key) for a key already in canonical form.
func firstValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// sendable reports why net/http would refuse req, or nil. Retrying such a
// request fails the same way every time, so the caller makes it Permanent
// instead of letting the transport's error pass for a network failure.
// Header values are never quoted: they may be credentials.
func sendable(req *http.Request) error {
	switch {
	case req.URL.Scheme != "http" && req.URL.Scheme != "https":
		return fmt.Errorf("request URL scheme %q is not http or https", req.URL.Scheme)
	case req.URL.Host == "":
		return errors.New("request URL has no host")
	case req.Method != "" && !httpsyntax.Token(req.Method):
		return fmt.Errorf("request method %q is not a valid method", req.Method)
	}
	for name, values := range req.Header {
		if !httpsyntax.Token(name) {
			return fmt.Errorf("request header name %q is not a valid header name", name)
		}
		for _, v := range values {
			if !httpsyntax.HeaderValue(v) {
				return fmt.Errorf("request header %q has a control character in its value", name)
			}
		}
	}
	return nil
}

// unsendable is the Permanent error for a request that can never be sent.
func unsendable(m *delivery.Message, why string) error {
	return classify.Permanent(fmt.Errorf("httpdelivery: build request for message %q: %s", m.ID, why))
}

func hasExplicitClass(err error) bool {
	var ce *classify.Error
	return errors.As(err, &ce)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readPrefix returns the body prefix the rules need: for a success
// without a body rule, nothing, or delivery.MaxResponseText bytes when the attempt
// records the response (ReportResponse); a snippet for a failure;
// BodyLimit bytes with a body rule. A read error keeps what was read: the
// status has already spoken.
//
// read reports whether the whole body was read (it ended within the limit,
// or there was none), so nothing is left to drain.
func (d *Deliverer) readPrefix(ctx context.Context, resp *http.Response) (prefix []byte, read bool) {
	if resp.Body == http.NoBody {
		return nil, true
	}
	limit := d.readLimit
	if !d.rules.HasBodyRule(resp.StatusCode) {
		if d.rules.StatusClass(resp.StatusCode) == classify.ClassOK {
			if !delivery.RecordsResponse(ctx) {
				return nil, false
			}
			limit = delivery.MaxResponseText
		} else {
			limit = min(limit, classify.MaxBodySnippet)
		}
	}
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	// One byte more than the limit tells a body that ended within it
	// from one that goes on.
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, int64(limit)+1))
	read = err == nil && n <= int64(limit)
	out := bytes.Clone(buf.Bytes()[:min(n, int64(limit))])
	bufPool.Put(buf)
	return out, read
}

// drainAndClose discards up to maxDrain bytes of body, for at most
// drainTime (then cancel, the request's, aborts the read), and closes it.
func (d *Deliverer) drainAndClose(body io.ReadCloser, cancel context.CancelFunc) {
	stop := time.AfterFunc(d.drainTime, cancel)
	_, _ = io.CopyN(io.Discard, body, d.maxDrain)
	stop.Stop()
	_ = body.Close()
}

// redactError returns err with its text redacted by the library's one
// redactor (see RedactURL): when the text holds something to redact, err is
// wrapped in an error that shows the redacted text and unwraps to err, so
// errors.Is, errors.As and classify.Of still see the cause.
func redactError(err error) error {
	msg := err.Error()
	if safe := redact.Text(msg); safe != msg {
		return &redactedError{msg: safe, err: err}
	}
	return err
}

// redactTransportError redacts err, a fresh error from http.Client.Do; the
// URL inside its *url.Error is redacted in place too, so that callers who
// unwrap it see no secret either.
func redactTransportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redact.URL(ue.URL)
	}
	return redactError(err)
}

// redactedError shows redacted text for an error whose own text holds a
// secret.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
