package browsertest

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/delivery"
	"github.com/outbound-go/outbound/delivery/admin"
	"github.com/outbound-go/outbound/delivery/memstore"
	"github.com/outbound-go/outbound/internal/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var screenshot = flag.Bool("screenshot", false, "write the page to docs/admin-page.png")

// chromium returns the browser's path, skipping the test without one
// (failing it in CI, which installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if testenv.InCI() {
		t.Fatal("chromium is not installed but CI is set: .ci/run installs it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed; run apt-get install chromium to test the admin page in a browser")
	return ""
}

// seed fills the store with dead letters, each after two attempts, one of
// them a partner's hostile error text, and some delivered records.
func seed(t *testing.T, s *memstore.Store) {
	t.Helper()
	ctx := context.Background()
	var msgs []delivery.Message
	for i := range 3 {
		msgs = append(msgs, delivery.Message{ID: fmt.Sprintf("order-%d", i), Destination: "crm", Payload: []byte(`{}`)})
	}
	for i := range 4 {
		msgs = append(msgs, delivery.Message{ID: fmt.Sprintf("invoice-%d", i), Destination: "billing", Payload: []byte(`{}`)})
	}
	_, err := s.Enqueue(ctx, msgs...)
	require.NoError(t, err)
	_, err = s.PauseDestination(ctx, "billing", delivery.Pause{Until: time.Now().Add(2 * time.Hour), Cause: "http_429",
		Reason: "ephemeral: http 429 Too Many Requests (Retry-After: 7200)"})
	require.NoError(t, err)
	start := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	for round := range 2 {
		recs, err := s.Claim(ctx, 10, time.Minute)
		require.NoError(t, err)
		for _, r := range recs {
			at := start.Add(time.Duration(round) * 3 * time.Minute)
			switch {
			case r.Destination == "billing":
				require.NoError(t, s.Complete(ctx, r.Lease(), delivery.Attempt{StartedAt: at, Duration: 80 * time.Millisecond, Class: classify.ClassOK, Status: 201}, false))
			case round == 0:
				a := delivery.Attempt{StartedAt: at, Duration: 30 * time.Second, Class: classify.ClassEphemeral, Status: 503,
					Error: "ephemeral: http 503 Service Unavailable", Response: "<html>maintenance</html>"}
				require.NoError(t, s.Reschedule(ctx, r.Lease(), time.Now().Add(-time.Second), &a))
			default:
				a := delivery.Attempt{StartedAt: at, Duration: 120 * time.Millisecond, Class: classify.ClassPermanent, Status: 422,
					Error: `permanent: http 422 {"error":"email <script>alert('x')</script> is invalid"}`}
				require.NoError(t, s.DeadLetter(ctx, r.Lease(), a))
			}
		}
	}
}

func TestAdminPage(t *testing.T) {
	exe := chromium(t)
	store := memstore.New(memstore.Config{})
	seed(t, store)
	h, err := admin.New(admin.Config{Store: store, Authorize: func(r *http.Request, _ admin.Action) error {
		if r.Header.Get("X-Ops-Token") != "on-call" {
			return admin.ErrForbidden
		}
		return nil
	}})
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.Handle("/ops/outbox/", http.StripPrefix("/ops/outbox", h))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()

	// A script that ran would open a dialog; there must be none. Listen
	// starts the browser, on a context without a timeout (its lifetime).
	dialogs := make(chan string, 4)
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		if d, ok := ev.(*page.EventJavascriptDialogOpening); ok {
			select {
			case dialogs <- d.Message:
			default:
			}
		}
	}))
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	// The service's own authentication: a header the browser sends.
	require.NoError(t, chromedp.Do(ctx, extraHeaders(network.Headers{"X-Ops-Token": "on-call"})))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(srv.URL+"/ops/outbox/"),
		chromedp.WaitVisible(chromedp.CSS("#count-dead")),
	))
	dead, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#count-dead")))
	require.NoError(t, err)
	assert.Equal(t, "3", dead, "the page shows the dead letters' count")
	firstID, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("a.record")))
	require.NoError(t, err)
	assert.Equal(t, "order-0", firstID)
	if *screenshot {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join("..", "..", "docs", "admin-page.png"), png, 0o644))
	}

	// Open the record: its whole history, the hostile text shown as text.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("a.record")),
		chromedp.WaitVisible(chromedp.CSS("#history")),
	))
	attempts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#history tr.attempt").length`))
	require.NoError(t, err)
	assert.Equal(t, 2, attempts, "both attempts of the record")
	lastError, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#history tr.attempt:last-child td.error")))
	require.NoError(t, err)
	assert.Contains(t, lastError, "<script>alert('x')</script>", "the partner's text is shown as text")
	state, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#state")))
	require.NoError(t, err)
	assert.Equal(t, "dead", state)

	// Press redrive: the form posts same-origin and comes back to the
	// record, now pending.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#redrive")),
		chromedp.WaitNotPresent(chromedp.CSS("#redrive")),
	))
	state, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#state")))
	require.NoError(t, err)
	assert.Equal(t, "pending", state)
	r, err := store.Get(context.Background(), "order-0")
	require.NoError(t, err)
	assert.Equal(t, delivery.StatePending, r.State, "the record is pending in the store")
	assert.Len(t, r.History, 2, "the redrive keeps the history")

	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/ops/outbox/")))
	back, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#count-dead")))
	require.NoError(t, err)
	assert.Equal(t, "2", back)
	select {
	case msg := <-dialogs:
		t.Fatalf("a script ran on the page: dialog %q", msg)
	default:
	}

	// Without the header the browser is refused.
	require.NoError(t, chromedp.Do(ctx, extraHeaders(network.Headers{}), chromedp.Navigate(srv.URL+"/ops/outbox/")))
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	require.NoError(t, err)
	assert.True(t, strings.Contains(body, "forbidden"), body)
}

// extraHeaders makes the tab send h with every request.
func extraHeaders(h network.Headers) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: h})
		return chromedp.Void{}, err
	}
}
