// Command outbound inspects and operates an outbox from a shell: the
// backlog and its destinations, dead letters with their attempt history,
// redrive, pause and resume. It works on the store a service uses, a
// PostgreSQL outbox or a SQLite file, and never changes its schema.
//
// Install it from a checkout of the repository (the modules are not
// tagged yet; the README's "Installing the commands" says why):
//
//	go install ./delivery/cmd/outbound
//
// and point it at a store with -store (or OUTBOUND_STORE):
//
//	outbound -store postgres:postgres://ops@db/app stats
//	outbound -store sqlite:/var/lib/app/outbox.db list -state dead -error "http 410"
//	outbound -store ... show order-123
//	outbound -store ... redrive -destination crm -dry-run
//	outbound -store ... pause crm -for 2h -reason "partner maintenance"
//
// Commands:
//
//	stats          counts by state, the oldest live record, the longest due
//	destinations   every destination: status, pause, figures
//	list           records, filtered: -state -destination -key -error
//	               -updated-after -updated-before (RFC 3339) -limit -after
//	show ID        one record with its attempt history
//	redrive ID...  redrive dead records by id; with no id, every dead record
//	               matching -destination -key -class -before, or with
//	               -dry-run only say how many
//	pause NAME     pause a destination for every process: -for -reason
//	resume NAME    resume a paused or disabled destination
//	purge          delete delivered and discarded records: -older-than -limit
//
// Tables are for people; -json (on every command) writes JSON for scripts,
// in the shapes of the admin API (package delivery/admin).
//
// Exit codes, which scripts may rely on:
//
//	0  done
//	1  error: the store could not be opened or reached, or failed
//	2  usage: an unknown command or flag, a missing or bad argument
//	3  not found: no record (or destination) with that id or name
//	4  refused: the store refused the action as invalid (a record that is
//	   not dead cannot be redriven, ...); nothing changed
//
// Payloads and header values are never printed; error texts were redacted
// when the attempts were recorded, and the store's URL is printed with its
// password redacted.
package main

import (
	"context"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
