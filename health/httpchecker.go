package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/internal/redact"
)

// DefaultMaxBody is how much of a response body [HTTPChecker] reads for
// its Validate function when MaxBody is zero.
const DefaultMaxBody = 64 << 10

// drainLimit is how much of an unread body a check discards so the
// connection can be reused; beyond it the connection is closed instead.
const drainLimit = 64 << 10

// MaxCheckBody is the largest HTTPCheckerConfig.MaxBody NewHTTPChecker
// accepts (64 MiB): a health check reads at most this much of a body.
const MaxCheckBody = 64 << 20

// HTTPCheckerConfig configures an [HTTPChecker]. Only URL is required.
type HTTPCheckerConfig struct {
	// URL is the absolute http or https URL to request. Required. Errors
	// and String show it without user info, query or fragment.
	URL string
	// Method is the request method. Empty means GET.
	Method string
	// Header holds extra request headers, for example credentials. Their
	// values never appear in errors.
	Header http.Header
	// ExpectStatus lists the statuses that count as healthy. Empty means
	// any 2xx.
	ExpectStatus []int
	// Validate, if set, must accept the response body (at most MaxBody
	// bytes) for the check to pass: a health endpoint that always answers
	// 200 says little, so require something it only says when healthy,
	// for example with [JSONField]. An error it returns is classified by
	// classify.Of (ClassEphemeral unless marked).
	Validate func(body []byte) error
	// MaxBody bounds the body given to Validate; a longer body fails the
	// check. Zero means DefaultMaxBody; at most MaxCheckBody.
	MaxBody int
	// Timeout bounds each check. Zero means DefaultTimeout.
	Timeout time.Duration
	// Client sends the request. Nil means http.DefaultClient. Share one
	// client with the rest of the service so checks reuse its connections.
	Client *http.Client
}

// HTTPChecker is a [Checker] that requests a URL and requires an expected
// status and, optionally, a valid body. Its errors are classified (a 503
// is ClassEphemeral, a 404 ClassPermanent, a refused connection
// ClassEphemeral) and carry the partner's Retry-After, and they never
// contain the URL's query, user info or the request headers. It is safe
// for concurrent use.
type HTTPChecker struct {
	url      string
	target   string // method and redacted URL, for errors
	method   string
	header   http.Header
	expect   []int
	validate func([]byte) error
	maxBody  int
	timeout  time.Duration
	client   *http.Client
}

// NewHTTPChecker returns a checker for cfg. It returns an error naming the
// field when cfg is invalid.
func NewHTTPChecker(cfg HTTPCheckerConfig) (*HTTPChecker, error) {
	c := &HTTPChecker{
		url:      cfg.URL,
		method:   orDefault(cfg.Method, http.MethodGet),
		header:   cfg.Header.Clone(),
		expect:   slices.Clone(cfg.ExpectStatus),
		validate: cfg.Validate,
		maxBody:  orDefault(cfg.MaxBody, DefaultMaxBody),
		timeout:  orDefault(cfg.Timeout, DefaultTimeout),
		client:   cfg.Client,
	}
	if c.client == nil {
		c.client = http.DefaultClient
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// The URL may hold credentials: do not echo it.
		return nil, errors.New("health: HTTPCheckerConfig.URL must be an absolute http or https URL")
	}
	c.target = c.method + " " + redact.URL(u.String())
	if _, err := http.NewRequest(c.method, cfg.URL, nil); err != nil {
		return nil, fmt.Errorf("health: HTTPCheckerConfig.Method %q is not a valid method", c.method)
	}
	for _, s := range c.expect {
		if s < 100 || s > 599 {
			return nil, fmt.Errorf("health: HTTPCheckerConfig.ExpectStatus: %d is not an HTTP status", s)
		}
	}
	switch {
	case cfg.MaxBody < 0:
		return nil, fmt.Errorf("health: HTTPCheckerConfig.MaxBody must not be negative, got %d", cfg.MaxBody)
	case cfg.MaxBody > MaxCheckBody:
		return nil, fmt.Errorf("health: HTTPCheckerConfig.MaxBody must be at most %d (MaxCheckBody), got %d", MaxCheckBody, cfg.MaxBody)
	case cfg.Timeout < 0:
		return nil, fmt.Errorf("health: HTTPCheckerConfig.Timeout must not be negative, got %v", cfg.Timeout)
	}
	return c, nil
}

// String returns the method and the redacted URL, for example
// "GET https://partner.example/health?[redacted]".
func (c *HTTPChecker) String() string { return c.target }

// Check requests the URL and returns nil when the status is expected and
// the body valid. Otherwise it returns a [*classify.Error]: with the
// status, class and Retry-After of an unexpected response (an unexpected
// 2xx or 3xx is ClassPermanent, the rest follow
// classify.DefaultStatusClass), with the class of the Validate error, or
// with the class classify.Of gives a transport error.
func (c *HTTPChecker) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method, c.url, nil)
	if err != nil { // validated in NewHTTPChecker; kept for safety
		return classify.Permanent(fmt.Errorf("health: %s: cannot build request", c.target))
	}
	if c.header != nil {
		req.Header = c.header.Clone()
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return c.transportError(err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
		_ = resp.Body.Close()
	}()

	if !c.expected(resp.StatusCode) {
		class := classify.DefaultStatusClass(resp.StatusCode)
		if class == classify.ClassOK {
			class = classify.ClassPermanent // a 2xx we were told not to expect
		}
		e := &classify.Error{Class: class, Status: resp.StatusCode,
			Err: fmt.Errorf("health: %s: unexpected status %d", c.target, resp.StatusCode)}
		if d, ok := classify.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			e.RetryAfter = d
		}
		return e
	}
	if c.validate == nil {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, int64(c.maxBody)+1))
	if err != nil {
		return c.transportError(err)
	}
	if len(body) > c.maxBody {
		return classify.Permanent(fmt.Errorf("health: %s: body is longer than MaxBody (%d bytes)", c.target, c.maxBody))
	}
	if err := c.validate(body); err != nil {
		return &classify.Error{Class: classify.Of(err), Status: resp.StatusCode,
			Err: fmt.Errorf("health: %s: body: %w", c.target, err)}
	}
	return nil
}

func (c *HTTPChecker) expected(status int) bool {
	if len(c.expect) == 0 {
		return status >= 200 && status <= 299
	}
	return slices.Contains(c.expect, status)
}

// transportError classifies err and rewrites it without the URL, which
// net/http puts in its *url.Error complete with query and user info.
func (c *HTTPChecker) transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &classify.Error{Class: classify.Of(err), Err: fmt.Errorf("health: %s: %w", c.target, err)}
}
