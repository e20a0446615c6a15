package health_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/health"
)

func ExampleMonitor() {
	ctx := context.Background()
	partnerUp := false
	m, err := health.NewMonitor(health.MonitorConfig{
		Name: "partner",
		Checker: health.CheckerFunc(func(ctx context.Context) error {
			if partnerUp {
				return nil
			}
			return errors.New("connection refused")
		}),
		SuccessThreshold: 2,
		OnChange: func(c health.Change) {
			fmt.Printf("%s: %s -> %s\n", c.Name, c.From, c.To)
		},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(m.State())

	// Never checked: Allow probes once, and the first result decides.
	err = m.Allow(ctx)
	fmt.Println(classify.Of(err), errors.Is(err, health.ErrDown))

	// Coming back takes SuccessThreshold good probes in a row. (Start
	// probes in the background; here we probe by hand.)
	partnerUp = true
	_ = m.Check(ctx)
	fmt.Println(m.State())
	_ = m.Check(ctx)
	fmt.Println(m.Allow(ctx))
	// Output:
	// unknown
	// partner: unknown -> down
	// unavailable true
	// down
	// partner: down -> up
	// <nil>
}

func ExampleGate() {
	ctx := context.Background()
	breaker, err := health.NewCircuitBreaker(health.BreakerConfig{
		Name:                "partner",
		ConsecutiveFailures: 3,
		OpenTimeout:         time.Minute,
	})
	if err != nil {
		panic(err)
	}
	gate, err := health.NewGate(health.GateConfig{Breaker: breaker})
	if err != nil {
		panic(err)
	}

	send := func(status int) {
		done, err := breaker.Allow(ctx)
		if err != nil {
			return
		}
		done(classify.HTTPRules{}.Classify(&http.Response{StatusCode: status, Header: http.Header{}}, nil))
	}
	for range 100 {
		send(http.StatusBadRequest) // the request's fault: never opens the breaker
	}
	fmt.Println(breaker.State(), gate.Allow(ctx))

	for range 3 {
		send(http.StatusServiceUnavailable)
	}
	err = gate.Allow(ctx)
	wait, _ := classify.RetryAfter(err)
	fmt.Println(breaker.State(), classify.Of(err), errors.Is(err, health.ErrBreakerOpen), wait.Round(time.Second))
	// Output:
	// closed <nil>
	// open unavailable true 1m0s
}

func ExampleBreakers() {
	ctx := context.Background()
	breakers, err := health.NewBreakers(health.BreakersConfig{
		Breaker: health.BreakerConfig{
			ConsecutiveFailures: 1,
			OnStateChange: func(host string, from, to health.BreakerState) {
				fmt.Printf("%s: %s -> %s\n", host, from, to)
			},
		},
	})
	if err != nil {
		panic(err)
	}
	done, _ := breakers.For("api.down.example").Allow(ctx)
	done(classify.Ephemeral(errors.New("connection reset")))

	_, err = breakers.For("api.down.example").Allow(ctx)
	fmt.Println(errors.Is(err, health.ErrBreakerOpen))
	_, err = breakers.For("api.up.example").Allow(ctx)
	fmt.Println(err)
	// Output:
	// api.down.example: closed -> open
	// true
	// <nil>
}

func ExampleStartup() {
	ok := health.CheckerFunc(func(context.Context) error { return nil })
	refused := health.CheckerFunc(func(context.Context) error { return errors.New("connection refused") })
	err := health.Startup(context.Background(), 10*time.Second,
		health.Dependency{Name: "postgres", Checker: ok},
		health.Dependency{Name: "rabbitmq", Checker: refused},
		health.Dependency{Name: "partner-api", Checker: refused},
	)
	fmt.Println(err)
	// Output:
	// health: startup: 2 of 3 checks failed: rabbitmq: connection refused; partner-api: connection refused
}

func ExampleJSONField() {
	validate := health.JSONField("status", "ok", "pass")
	fmt.Println(validate([]byte(`{"status":"ok","uptime":1234}`)))
	fmt.Println(validate([]byte(`{"status":"maintenance"}`)))
	fmt.Println(validate([]byte(`OK`)))
	// Output:
	// <nil>
	// health: body field "status" is "maintenance", want one of ["ok" "pass"]
	// health: body is not JSON: invalid character 'O' looking for beginning of value
}

func ExampleHTTPChecker() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"status":"degraded"}`)) // 200, but not healthy
	}))
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()

	checker, err := health.NewHTTPChecker(health.HTTPCheckerConfig{
		URL:      srv.URL + "/health?api_key=s3cret",
		Validate: health.JSONField("status", "ok"),
		Client:   client,
	})
	if err != nil {
		panic(err)
	}
	err = checker.Check(context.Background())
	fmt.Println(classify.Of(err), classify.Status(err))
	var ce *classify.Error
	if errors.As(err, &ce) {
		fmt.Println(errors.Unwrap(ce.Err))
	}
	// Output:
	// ephemeral 200
	// health: body field "status" is "degraded", want one of ["ok"]
}

func ExampleEndpoint() {
	db, _ := health.NewMonitor(health.MonitorConfig{Name: "db",
		Checker: health.CheckerFunc(func(context.Context) error { return nil })})
	partner, _ := health.NewMonitor(health.MonitorConfig{Name: "partner",
		Checker: health.CheckerFunc(func(context.Context) error { return errors.New("timeout") })})
	endpoint, err := health.NewEndpoint(health.EndpointConfig{Components: []health.Component{
		{Monitor: db, Critical: true, Type: "datastore"},
		{Monitor: partner}, // records wait while it is down: degraded, not failed
	}})
	if err != nil {
		panic(err)
	}
	_ = health.Startup(context.Background(), time.Second,
		health.Dependency{Name: "db", Checker: db}, health.Dependency{Name: "partner", Checker: partner})

	rec := httptest.NewRecorder()
	endpoint.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	report := endpoint.Report()
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	fmt.Println(report.Status, report.Checks["db"][0].Status, report.Checks["partner"][0].Status, report.Checks["partner"][0].Output)
	// Output:
	// 200 application/health+json
	// warn pass fail timeout
}
