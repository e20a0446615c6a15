package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/outbound-go/outbound/delivery"
)

// env is what a command needs: its store, output and flags.
type env struct {
	ctx    context.Context
	store  delivery.Store
	stdout io.Writer
	json   bool
}

// command is one subcommand: setup defines its flags on fs and returns
// prepare, which checks the positional arguments (a usage error, before
// any store is opened) and returns the action to run.
type command struct {
	name, args, summary string
	setup               func(fs *flag.FlagSet) (prepare func(args []string) (action, error))
}

// action runs a command against its store.
type action func(e *env) error

var commands = []command{
	{"stats", "", "counts by state and the backlog's age", statsCmd},
	{"destinations", "", "every destination: status, pause, figures", destinationsCmd},
	{"list", "[flags]", "records matching the filters, one page", listCmd},
	{"show", "ID", "one record with its attempt history", showCmd},
	{"redrive", "[ID...] [flags]", "redrive dead records by id, or by filter", redriveCmd},
	{"pause", "NAME [flags]", "pause a destination for every process", pauseCmd},
	{"resume", "NAME", "resume a paused or disabled destination", resumeCmd},
	{"purge", "[flags]", "delete old delivered and discarded records", purgeCmd},
}

// run is the command line: global flags, a command, its flags. It returns
// the exit code (see the package doc).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	global := flag.NewFlagSet("outbound", flag.ContinueOnError)
	global.SetOutput(io.Discard)
	opts := storeOptions{}
	global.StringVar(&opts.url, "store", getenv("OUTBOUND_STORE"), "the store: postgres:URL or sqlite:PATH (default $OUTBOUND_STORE)")
	global.StringVar(&opts.schema, "schema", "", "PostgreSQL schema of the outbox (default outbound)")
	global.StringVar(&opts.table, "table", "", "PostgreSQL table of the outbox (default outbox)")
	global.DurationVar(&opts.timeout, "timeout", 10*time.Second, "how long to wait for the store to answer")
	if err := global.Parse(args); err != nil {
		if err == flag.ErrHelp {
			usage(stdout, global)
			return exitOK
		}
		return exitCode(stderr, usagef("%v", err))
	}
	rest := global.Args()
	if len(rest) == 0 || rest[0] == "help" {
		usage(stdout, global)
		if len(rest) == 0 {
			return exitUsage
		}
		return exitOK
	}
	var cmd *command
	for i := range commands {
		if commands[i].name == rest[0] {
			cmd = &commands[i]
		}
	}
	if cmd == nil {
		return exitCode(stderr, usagef("unknown command %q", rest[0]))
	}
	fs := flag.NewFlagSet(cmd.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	e := &env{ctx: ctx, stdout: stdout}
	fs.BoolVar(&e.json, "json", false, "write JSON instead of a table")
	prepare := cmd.setup(fs)
	if err := fs.Parse(interleave(fs, rest[1:])); err != nil {
		if err == flag.ErrHelp {
			fs.SetOutput(stdout)
			fmt.Fprintf(stdout, "usage: outbound [global flags] %s %s\n%s\n", cmd.name, cmd.args, cmd.summary)
			fs.PrintDefaults()
			return exitOK
		}
		return exitCode(stderr, usagef("%s: %v", cmd.name, err))
	}
	if opts.timeout <= 0 {
		return exitCode(stderr, usagef("-timeout must be positive"))
	}
	act, err := prepare(fs.Args())
	if err != nil {
		return exitCode(stderr, usagef("%s: %v", cmd.name, err))
	}
	store, closeStore, err := openStore(ctx, opts)
	if err != nil {
		return exitCode(stderr, err)
	}
	defer closeStore()
	e.store = store
	return exitCode(stderr, act(e))
}

// interleave moves flags after positional arguments to the front, so
// "show ID -json" and "pause crm -for 2h" read as people write them.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if f := fs.Lookup(name); f != nil && i+1 < len(args) {
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
				continue
			}
			i++
			flags = append(flags, args[i])
		}
	}
	return append(flags, pos...)
}

func usage(w io.Writer, global *flag.FlagSet) {
	fmt.Fprintln(w, "usage: outbound [global flags] COMMAND [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %-17s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\nGlobal flags:")
	global.SetOutput(w)
	global.PrintDefaults()
	global.SetOutput(io.Discard)
	fmt.Fprintln(w, "\nEvery command takes -json. Exit codes: 0 done, 1 error, 2 usage, 3 not found, 4 refused.")
	fmt.Fprintln(w, "Run 'outbound COMMAND -h' for a command's flags.")
}

// writeJSON writes v as indented JSON.
func (e *env) writeJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
