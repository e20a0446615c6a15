package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// Instruction counts are the second measure of the pipeline and HTTP
// comparisons, and the one that does not move with the machine's load.
// Requests per second on a 2-CPU machine with client and server in one
// process move a few percent between rounds, more under other load, and
// a ratio of 0.93 against 0.95 is inside that noise. So each contender
// also runs alone, in a child process of this binary, under valgrind's
// cachegrind (which counts the instructions the process executes; there
// are no hardware counters on most virtual machines), with GOMAXPROCS=1
// and asynchronous preemption off, so that no idle processor spins and no
// signal lands at a different point from one run to the next. The child
// does a few ops to warm up (the connection dialled, the pools filled) and
// then lo ops, or hi ops; the difference between the two counts, over
// hi-lo, is the count of one op, with the start-up and warm-up subtracted.
// Two runs of the same contender agree to within about 0.3%.
//
// What is counted is user-space instructions of the whole process, client
// and loopback server alike (the server's work is the same for every
// contender that sends the same request), not the kernel's: the syscalls
// of a request are the same for every contender.

const instrChildEnv = "OUTBOUND_BENCH_INSTR_CHILD" // "<comparison>/<contender index>/<ops>"

// instrWarmup is how many ops an instruction-counting child does before
// the counted ones, in both of its runs.
const instrWarmup = 50

// InstructionComparisons are the comparisons [CountInstructions] can
// count, with the ops of its two runs per contender: many for the
// pipeline (an op is a few thousand instructions), fewer for HTTP (an op
// is about a hundred thousand).
var InstructionComparisons = map[string]struct{ Lo, Hi int }{
	"pipeline": {Lo: 100_000, Hi: 500_000},
	"http":     {Lo: 2_000, Hi: 6_000},
}

// instructionContenders returns the contenders of comparison as the
// instruction count runs them (HTTP at one sender, against a loopback
// server it starts), and a func that stops what it started. It returns an
// error for a comparison it does not know.
func instructionContenders(comparison string) ([]Contender, func(), error) {
	switch comparison {
	case "pipeline":
		return PipelineContenders(), func() {}, nil
	case "http":
		srv := NewLoopback()
		return HTTPContenders(srv.URL, 1), srv.Close, nil
	}
	return nil, nil, fmt.Errorf("bench: no instruction count for comparison %q (have pipeline, http)", comparison)
}

// InstructionCount is one contender's instructions per op.
type InstructionCount struct {
	Name    string
	Partial bool    // the contender does only part of the work (see Contender)
	PerOp   float64 // user-space instructions of the whole process per op
	Err     error   // why the contender could not be counted; PerOp is then 0
}

// IsInstructionsChild reports whether this process was started by
// [CountInstructions] to run one contender; main (or TestMain) must then
// call [RunInstructionsChild] and exit with its code.
func IsInstructionsChild() bool { return os.Getenv(instrChildEnv) != "" }

// RunInstructionsChild runs the contender and the number of ops its
// parent asked for, serially, after instrWarmup ops, and returns 0. On
// failure it writes the error to stderr and returns 1.
func RunInstructionsChild() int {
	if err := instructionsChild(os.Getenv(instrChildEnv)); err != nil {
		fmt.Fprintln(os.Stderr, "instructions child:", err)
		return 1
	}
	return 0
}

func instructionsChild(spec string) error {
	parts := strings.Split(spec, "/")
	if len(parts) != 3 {
		return fmt.Errorf("bad %s %q", instrChildEnv, spec)
	}
	index, err1 := strconv.Atoi(parts[1])
	ops, err2 := strconv.Atoi(parts[2])
	if err := errors.Join(err1, err2); err != nil || ops < 0 {
		return fmt.Errorf("bad %s %q", instrChildEnv, spec)
	}
	cs, stop, err := instructionContenders(parts[0])
	if err != nil {
		return err
	}
	defer stop()
	if index < 0 || index >= len(cs) {
		return fmt.Errorf("no contender %d in %s", index, parts[0])
	}
	op, done, err := cs[index].Setup()
	if err != nil {
		return fmt.Errorf("%s: setup: %w", cs[index].Name, err)
	}
	if done != nil {
		defer done()
	}
	ctx := context.Background()
	for range instrWarmup + ops {
		if err := op(ctx); err != nil {
			return fmt.Errorf("%s: %w", cs[index].Name, err)
		}
	}
	return nil
}

// irefs matches cachegrind's count of the instructions executed.
var irefs = regexp.MustCompile(`I\s+refs:\s+([0-9,]+)`)

// CountInstructions counts the user-space instructions per op of every
// contender of comparison ("pipeline" or "http", see
// [InstructionComparisons]), each in two child processes of this binary
// under valgrind --tool=cachegrind (see the comment at the top of this
// file). It returns an error when valgrind is not installed or the
// comparison is unknown; a contender that fails has its Err set.
func CountInstructions(ctx context.Context, comparison string) ([]InstructionCount, error) {
	ops, ok := InstructionComparisons[comparison]
	if !ok {
		return nil, fmt.Errorf("bench: no instruction count for comparison %q (have pipeline, http)", comparison)
	}
	return countInstructions(ctx, comparison, ops.Lo, ops.Hi)
}

func countInstructions(ctx context.Context, comparison string, lo, hi int) ([]InstructionCount, error) {
	if hi <= lo || lo < 0 {
		return nil, fmt.Errorf("bench: instruction count needs 0 <= lo < hi, got %d and %d", lo, hi)
	}
	valgrind, err := exec.LookPath("valgrind")
	if err != nil {
		return nil, errors.New("bench: counting instructions needs valgrind (Debian: apt-get install valgrind)")
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: instruction count: %w", err)
	}
	cs, stop, err := instructionContenders(comparison)
	if err != nil {
		return nil, err
	}
	stop() // the children start their own
	out := make([]InstructionCount, len(cs))
	for i, c := range cs {
		out[i] = InstructionCount{Name: c.Name, Partial: c.Partial}
		at := func(ops int) (uint64, error) {
			return countChild(ctx, valgrind, self, fmt.Sprintf("%s/%d/%d", comparison, i, ops))
		}
		few, err := at(lo)
		if err != nil {
			out[i].Err = err
			continue
		}
		many, err := at(hi)
		if err != nil {
			out[i].Err = err
			continue
		}
		if many <= few {
			out[i].Err = fmt.Errorf("bench: %s: %d ops counted %d instructions, %d ops %d", c.Name, hi, many, lo, few)
			continue
		}
		out[i].PerOp = float64(many-few) / float64(hi-lo)
	}
	return out, ctx.Err()
}

// countChild runs one instruction-counting child with spec under
// cachegrind and returns the instructions it executed.
func countChild(ctx context.Context, valgrind, self, spec string) (uint64, error) {
	cmd := exec.CommandContext(ctx, valgrind, "--tool=cachegrind", "--cache-sim=no",
		"--cachegrind-out-file=/dev/null", self)
	cmd.Env = append(os.Environ(), instrChildEnv+"="+spec, "GOMAXPROCS=1", "GODEBUG=asyncpreemptoff=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("bench: valgrind %s: %w: %s", spec, err, lastLines(stderr.String(), 5))
	}
	m := irefs.FindStringSubmatch(stderr.String())
	if m == nil {
		return 0, fmt.Errorf("bench: valgrind %s printed no instruction count: %s", spec, lastLines(stderr.String(), 5))
	}
	n, err := strconv.ParseUint(strings.ReplaceAll(m[1], ",", ""), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bench: valgrind %s: count %q: %w", spec, m[1], err)
	}
	return n, nil
}

// lastLines returns the last n lines of s, for an error message.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
