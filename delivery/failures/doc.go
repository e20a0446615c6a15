// Package failures counts a dispatcher's outcomes by destination, class
// and cause, in memory, in total and over a rolling window, so a service
// without Prometheus can act on a change in the rate of failures instead
// of on each one: most ephemeral errors recover on their own.
//
//	tracker, err := failures.New(failures.Config{}) // one-minute buckets over an hour
//	if err != nil {
//		return err
//	}
//	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: send, Observer: tracker})
//	// later, once a minute:
//	surges, err := tracker.Surges(failures.SurgeRule{}) // 3x the usual rate, at least 10, over 5 minutes
package failures
