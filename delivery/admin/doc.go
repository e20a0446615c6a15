// Package admin is the operators' surface of an outbox: an http.Handler a
// service mounts under its own path, behind its own authentication, with a
// JSON API and a small HTML page over any delivery.Store.
//
// The read API answers what is stuck, for whom, since when and what the
// partner said: stats by state, destinations with their figures and
// pauses, records filtered by state, destination, key, time and error
// text, and one record with its attempt history. The actions redrive dead
// records (by id or by filter), purge old delivered and discarded records,
// and pause, disable or resume a destination.
//
//	h, err := admin.New(admin.Config{
//		Store: store,
//		Authorize: func(r *http.Request, a admin.Action) error {
//			if !isOnCall(r) { // the service's own check
//				return admin.ErrForbidden
//			}
//			return nil
//		},
//	})
//	if err != nil { ... }
//	mux.Handle("/ops/outbox/", http.StripPrefix("/ops/outbox", h))
//
// Safe by default:
//
//   - An Authorizer is required: New refuses a Config without one, so the
//     surface is never open by accident. It is asked before every request,
//     reads included, with the Action the request would take.
//   - Actions are POST only, and cross-origin browser POSTs are refused
//     (http.CrossOriginProtection: Sec-Fetch-Site, then Origin against
//     Host), so another site cannot make an operator's browser redrive or
//     pause anything.
//   - Every response carries a strict Content-Security-Policy (no script
//     at all, styles from the handler only, no framing), nosniff and
//     no-store. HTML goes through html/template: a partner's error text is
//     hostile input and is always escaped.
//   - Payloads are never shown (their size is), nor header values: only
//     header names. Stored error texts were redacted when the attempts
//     were recorded (delivery.NewAttempt).
//
// Routes, relative to where the handler is mounted:
//
//	GET  /                      the page: backlog per destination, dead letters
//	GET  /record?id=ID          the page of one record, with its history
//	GET  /api/stats             delivery.Stats as JSON
//	GET  /api/destinations      every destination with its figures
//	GET  /api/records?...       a page of records: state, destination, key,
//	                            error, updated_after, updated_before (RFC 3339),
//	                            limit, after (the previous page's next)
//	GET  /api/record?id=ID      one record with its history
//	POST /api/redrive           id=... (repeated): redrive those dead records
//	POST /api/redrive-matching  destination, key, class, updated_before:
//	                            redrive every dead record matching; dry_run=1
//	                            counts them instead
//	POST /api/pause             name, for (a duration, default 1h), reason
//	POST /api/resume            name
//	POST /api/disable           name, reason: no claims until resumed
//	POST /api/purge             updated_before (RFC 3339) or older_than (a
//	                            duration), limit (default 10000): delete
//	                            delivered and discarded records last changed
//	                            before then (never dead ones; by age only, so
//	                            id, destination, key and class are refused);
//	                            dry_run=1 counts them instead
//
// Errors are JSON objects {"error": "..."} with 400 for bad input, 403 when
// refused, 404 for an unknown record or destination, 405 for a wrong
// method, 500 for a store failure (whose text is not shown).
package admin
