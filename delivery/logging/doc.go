// Package logging tells what a dispatcher does in log/slog lines: an
// [Observer] writes one line per claimed record, at a level that follows
// what a person should do about it (a dead letter is Error, a retry is
// Debug), one line per run, and lines for breakers, health monitors and
// token caches; [Handler] puts the context's correlation id on a service's
// own lines too. Error text is redacted, payloads are logged only when
// asked, and headers never are.
//
//	logger := slog.New(logging.Handler(slog.NewJSONHandler(os.Stderr, nil)))
//	logs, err := logging.NewObserver(logging.Config{Logger: logger})
//	if err != nil {
//		return err
//	}
//	d, err := delivery.NewDispatcher(delivery.DispatcherConfig{Store: store, Deliverer: send, Observer: logs})
package logging
