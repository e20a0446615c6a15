//go:build unix

package bench

import (
	"os"
	"runtime"
	"syscall"
)

// exitedMaxRSS returns the peak resident set size, in bytes, that the
// kernel recorded for an exited child process (getrusage's ru_maxrss),
// and 0 where it is unknown.
func exitedMaxRSS(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss) // bytes there
	}
	return int64(ru.Maxrss) * 1024 // kilobytes elsewhere
}
