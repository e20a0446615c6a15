package retry_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/outbound-go/outbound/classify"
	"github.com/outbound-go/outbound/retry"
)

// A partner that answers 503 twice and then accepts. Do retries the
// Ephemeral outcomes with short in-process waits.
func ExampleDo() {
	calls := 0
	send := func(ctx context.Context) error {
		calls++
		if calls < 3 {
			return &classify.Error{Class: classify.ClassEphemeral, Status: http.StatusServiceUnavailable}
		}
		return nil
	}
	p := retry.Policy{
		Backoff:     retry.Exponential{Initial: time.Millisecond, Max: 10 * time.Millisecond, Factor: 2},
		MaxAttempts: 5,
		MaxElapsed:  time.Second,
		OnRetry: func(attempt int, delay time.Duration, err error) {
			fmt.Printf("attempt %d: %v; retrying in %v\n", attempt, err, delay)
		},
	}
	err := retry.Do(context.Background(), p, send)
	fmt.Println("err:", err, "after", calls, "calls")
	// Output:
	// attempt 1: ephemeral: http 503 Service Unavailable; retrying in 1ms
	// attempt 2: ephemeral: http 503 Service Unavailable; retrying in 2ms
	// err: <nil> after 3 calls
}

// A Permanent outcome is not retried; the error keeps its class and says how
// many attempts were made.
func ExampleDo_permanent() {
	err := retry.Do(context.Background(), retry.Policy{}, func(ctx context.Context) error {
		return classify.Permanent(errors.New("account has no credit"))
	})
	var ae *retry.AttemptsError
	if errors.As(err, &ae) {
		fmt.Println(ae.Attempts, classify.Of(err))
	}
	fmt.Println(err)
	// Output:
	// 1 permanent
	// retry: gave up after 1 attempt (permanent is not retried): permanent: account has no credit
}

// Running out of attempts keeps the last outcome's class, so the caller (or
// a durable dispatcher behind it) still knows the partner may recover.
func ExampleDo_exhausted() {
	p := retry.Policy{Backoff: retry.Constant(time.Millisecond), MaxAttempts: 3}
	err := retry.Do(context.Background(), p, func(ctx context.Context) error {
		return classify.Ephemeral(errors.New("connection reset"))
	})
	fmt.Println(errors.Is(err, retry.ErrMaxAttempts), classify.Of(err))
	fmt.Println(err)
	// Output:
	// true ephemeral
	// retry: gave up after 3 attempts (max attempts reached): ephemeral: connection reset
}

func ExampleDoValue() {
	calls := 0
	id, err := retry.DoValue(context.Background(), retry.Policy{Backoff: retry.Constant(0)},
		func(ctx context.Context) (string, error) {
			calls++
			if calls == 1 {
				return "", classify.Ephemeral(errors.New("timeout"))
			}
			return "receipt-42", nil
		})
	fmt.Println(id, err)
	// Output:
	// receipt-42 <nil>
}

// A durable dispatcher asks the policy when to try a record again and stores
// the answer; the partner's Retry-After is a floor, capped by MaxRetryAfter.
func ExamplePolicy_Next() {
	p := retry.DefaultPolicy()
	firstAttempt := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	now := firstAttempt.Add(4 * time.Minute) // the third attempt just failed

	err := &classify.Error{Class: classify.ClassEphemeral, Status: http.StatusBadGateway}
	if delay, ok := p.Next(3, now.Sub(firstAttempt), err); ok {
		fmt.Println("next attempt at", now.Add(delay).Format(time.TimeOnly))
	}

	limited := &classify.Error{Class: classify.ClassEphemeral, Status: http.StatusTooManyRequests, RetryAfter: time.Hour}
	delay, _ := p.Next(3, now.Sub(firstAttempt), limited)
	fmt.Println("rate limited, wait", delay)

	_, ok := p.Next(3, now.Sub(firstAttempt), classify.Permanent(errors.New("400 bad request")))
	fmt.Println("retry a permanent failure:", ok)

	_, ok = p.Next(10, 24*time.Hour, err)
	fmt.Println("retry after 10 attempts:", ok)
	// Output:
	// next attempt at 12:13:00
	// rate limited, wait 1h0m0s
	// retry a permanent failure: false
	// retry after 10 attempts: false
}

func ExampleDefaultBackoff() {
	b := retry.DefaultBackoff()
	var waits []time.Duration
	for attempt := 1; attempt <= 8; attempt++ {
		waits = append(waits, b.Delay(attempt))
	}
	fmt.Println(waits)
	fmt.Println(b.Delay(1_000_000))
	// Output:
	// [1m0s 3m0s 9m0s 27m0s 1h21m0s 4h3m0s 6h0m0s 6h0m0s]
	// 6h0m0s
}

func ExampleExponential_Validate() {
	b := retry.Exponential{Initial: time.Second, Max: time.Minute, Factor: 0.5}
	fmt.Println(b.Validate())
	// Output:
	// retry: invalid settings: Exponential.Factor is 0.5; it must be at least 1
}
