package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Machine describes where a comparison ran, for the note under the table.
type Machine struct {
	CPUs       int    // logical CPUs
	GOMAXPROCS int    // Go's parallelism
	CPUModel   string // from /proc/cpuinfo, or "unknown"
	GoVersion  string
	OSArch     string
	Load       string // 1, 5 and 15 minute load averages from /proc/loadavg, or "unknown"
	Postgres   string // server version, or empty when not asked
}

// ReadMachine describes this machine. When url is not empty it also asks
// that PostgreSQL server for its version (an unreachable server leaves
// Postgres saying so; it is not an error).
func ReadMachine(ctx context.Context, url string) Machine {
	m := Machine{
		CPUs:       runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		CPUModel:   cpuModel(),
		GoVersion:  runtime.Version(),
		OSArch:     runtime.GOOS + "/" + runtime.GOARCH,
		Load:       ReadLoad(),
	}
	if url != "" {
		m.Postgres = postgresVersion(ctx, url)
	}
	return m
}

// String renders m as one line of markdown.
func (m Machine) String() string {
	s := fmt.Sprintf("%d CPUs (GOMAXPROCS %d), %s, %s %s, load average at start %s",
		m.CPUs, m.GOMAXPROCS, m.CPUModel, m.GoVersion, m.OSArch, m.Load)
	if m.Postgres != "" {
		s += ", " + m.Postgres
	}
	return s
}

// ReadLoad returns the 1, 5 and 15 minute load averages, or "unknown" where
// /proc/loadavg cannot be read.
func ReadLoad() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func postgresVersion(ctx context.Context, url string) string {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return "PostgreSQL unreachable"
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var v string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return "PostgreSQL version unknown"
	}
	return "PostgreSQL " + strings.Fields(v)[0]
}
