//go:build !unix

package bench

import "os"

// exitedMaxRSS cannot read a child process's peak resident set size on
// this system: it returns 0.
func exitedMaxRSS(*os.ProcessState) int64 { return 0 }
