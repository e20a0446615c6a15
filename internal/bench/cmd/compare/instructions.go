package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/outbound-go/outbound/internal/bench"
)

// instructions prints the instruction count per op of the pipeline and
// HTTP contenders, each counted alone under valgrind (see
// bench.CountInstructions): the measure of CPU per op that no other load
// on the machine moves. It returns an error when valgrind is missing or a
// contender could not be counted (its row says so).
func instructions(ctx context.Context, o options) error {
	fmt.Fprintf(o.out, "\n### 8. Instructions per op, counted under valgrind\n\n")
	t := table{head: []string{"comparison", "contender", "instructions/op", "÷ reference"}}
	var errs []error
	for _, comparison := range []string{"pipeline", "http"} {
		fmt.Fprintf(o.progress, "instructions: %s ...\n", comparison)
		counts, err := bench.CountInstructions(ctx, comparison)
		if err != nil {
			errs = append(errs, err)
			if counts == nil {
				break // no valgrind: the other comparison fails alike
			}
		}
		ref, refName := instructionReference(comparison, counts)
		for _, c := range counts {
			if c.Err != nil {
				errs = append(errs, c.Err)
				t.add(comparison, c.Name, "failed", "")
				continue
			}
			t.add(comparison, c.Name, fmt.Sprintf("%.0f", c.PerOp), ratio(c.PerOp, ref))
		}
		fmt.Fprintf(o.progress, "  reference: %s\n", refName)
	}
	t.write(o.out)
	lo, hi := bench.InstructionComparisons["http"].Lo, bench.InstructionComparisons["http"].Hi
	fmt.Fprintf(o.out, "\nEach contender runs alone in a child process under `valgrind --tool=cachegrind` with GOMAXPROCS=1 and asynchronous preemption off, one sender, after a warm-up: instructions/op is the difference between a run of %d ops and one of %d (HTTP; the pipeline %d and %d), over the difference in ops, so start-up and warm-up cancel out. It counts the user-space instructions of the whole process, client and loopback server, garbage collection included; not the kernel's (the same syscalls for every client), and every instruction alike (an atomic or a cache miss costs more than an add, so a chain with fewer instructions can still take longer). Two runs agree within about 0.3%% (HTTP) and 1%% (the pipeline; more for a chain that allocates much, whose collection cycles fall differently). ÷ reference: over bare net/http for HTTP, over the full peer with the fewest instructions for the pipeline (lower is better).\n",
		lo, hi, bench.InstructionComparisons["pipeline"].Lo, bench.InstructionComparisons["pipeline"].Hi)
	return errors.Join(errs...)
}

// instructionReference returns the count the comparison's rows are
// divided by, and its contender's name: bare net/http's for HTTP (the
// first contender, the physical limit), the fewest among the full peers
// for the pipeline (every contender but the first, ours, and the partial
// ones), as its time table does.
func instructionReference(comparison string, counts []bench.InstructionCount) (float64, string) {
	if comparison == "http" {
		if len(counts) == 0 {
			return 0, ""
		}
		return counts[0].PerOp, counts[0].Name
	}
	best, name := 0.0, ""
	for i := 1; i < len(counts); i++ {
		c := counts[i]
		if c.Partial || c.PerOp <= 0 {
			continue
		}
		if best == 0 || c.PerOp < best {
			best, name = c.PerOp, c.Name
		}
	}
	return best, name
}
