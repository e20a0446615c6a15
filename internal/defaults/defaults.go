// Package defaults fills the zero fields of configuration structs, so every
// Config in the library reads "zero means the documented default" the same
// way.
//
//	defaults.Set(&cfg.Concurrency, 1)
//	defaults.Set(&cfg.PollInterval, 5*time.Second)
package defaults

import "time"

// Set stores def in *v when *v is zero and leaves it alone otherwise.
func Set[T int | int64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}
