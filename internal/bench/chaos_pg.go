package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// privatePG is a PostgreSQL server of the chaos comparison's own: a data
// directory in a temporary directory, a free loopback port, run by the
// binaries of the machine's PostgreSQL installation. Restarting the
// machine's shared server would break whoever else uses it.
//
// Two roles: postgres, the superuser the faults are injected with (it may
// use the superuser-reserved connection slots), and chaos, an ordinary
// login owning the database chaos, which the dispatcher and the client
// exhausting the pool connect as, as an application would.
type privatePG struct {
	bin     string // directory holding initdb, pg_ctl, postgres
	dir     string // temporary directory: data/, server.log, the socket
	port    int
	cred    *syscall.Credential // the postgres OS user, when we are root
	maxConn int
}

// Settings of the private server.
const (
	chaosDB       = "chaos"
	chaosRole     = "chaos"
	chaosReserved = ChaosReservedConnections
)

// ChaosReservedConnections is the private server's
// superuser_reserved_connections: the slots an ordinary role cannot take.
const ChaosReservedConnections = 3

// FindPGBin returns the directory of the newest PostgreSQL server
// installation under /usr/lib/postgresql (the layout of Debian's and
// Ubuntu's postgresql packages), or override if it is not empty. It
// returns an error naming what to install when no directory holds initdb,
// pg_ctl and postgres.
func FindPGBin(override string) (string, error) {
	need := func(dir string) error {
		for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
			if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
				return err
			}
		}
		return nil
	}
	if override != "" {
		if err := need(override); err != nil {
			return "", fmt.Errorf("bench: chaos: %s does not hold the PostgreSQL server binaries (initdb, pg_ctl, postgres; the postgresql package installs them): %w", override, err)
		}
		return override, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int {
		switch va, vb := version(a), version(b); {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	for _, d := range dirs {
		if need(d) == nil {
			return d, nil
		}
	}
	return "", errors.New("bench: chaos: no PostgreSQL server binaries (initdb, pg_ctl, postgres) in /usr/lib/postgresql/*/bin: install the postgresql package (apt-get install postgresql), or name the directory with -chaos-pgbin")
}

// startPrivatePG creates a cluster in a new temporary directory and starts
// it on a free loopback port with maxConn connection slots, 3 of them
// reserved for superusers. As root, the server runs as the postgres OS
// user (initdb and postgres refuse root). On failure nothing is left
// behind.
func startPrivatePG(ctx context.Context, bin string, maxConn int) (_ *privatePG, err error) {
	p := &privatePG{bin: bin, maxConn: maxConn}
	if p.dir, err = os.MkdirTemp("", "outbound-chaos-pg-"); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.stop()
		}
	}()
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("bench: chaos: running as root, the server must run as the postgres OS user (initdb refuses root): %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(p.dir, int(uid), int(gid)); err != nil {
			return nil, err
		}
	}
	if p.port, err = freePort(); err != nil {
		return nil, err
	}
	if _, err := p.run(ctx, "initdb", "-D", p.data(), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("\n# outbound chaos benchmark\nport = %d\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '%s'\nmax_connections = %d\nsuperuser_reserved_connections = %d\nshared_buffers = '32MB'\nlog_min_messages = warning\n",
		p.port, p.dir, maxConn, chaosReserved)
	f, err := os.OpenFile(filepath.Join(p.data(), "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	_, err = f.WriteString(conf)
	if err = errors.Join(err, f.Close()); err != nil {
		return nil, err
	}
	if err := p.ctl(ctx, "start"); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, p.url("postgres", "postgres"))
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	for _, q := range []string{
		"CREATE ROLE " + chaosRole + " LOGIN",
		"CREATE DATABASE " + chaosDB + " OWNER " + chaosRole,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("bench: chaos: %s: %w", q, err)
		}
	}
	return p, nil
}

func (p *privatePG) data() string { return filepath.Join(p.dir, "data") }

// url returns the URL of database db as role.
func (p *privatePG) url(role, db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", role, p.port, db)
}

// run runs one of the server's binaries as the server's OS user and
// returns its output, or an error holding it.
func (p *privatePG) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("bench: chaos: %s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// ctl runs pg_ctl action on the cluster (start, stop, restart) and waits
// for it to finish: fast shutdown (sessions are disconnected, the server
// checkpoints and exits; what a service manager's restart does).
func (p *privatePG) ctl(ctx context.Context, action string) error {
	_, err := p.run(ctx, "pg_ctl", action, "-D", p.data(), "-l", filepath.Join(p.dir, "server.log"), "-m", "fast", "-w", "-t", "60")
	if err != nil {
		if log, rerr := os.ReadFile(filepath.Join(p.dir, "server.log")); rerr == nil {
			err = fmt.Errorf("%w\nserver.log:\n%s", err, log)
		}
	}
	return err
}

// stop stops the server (immediately: its data is thrown away) and
// removes its directory.
func (p *privatePG) stop() {
	if _, err := os.Stat(filepath.Join(p.data(), "postmaster.pid")); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, _ = p.run(ctx, "pg_ctl", "stop", "-D", p.data(), "-m", "immediate", "-w")
		cancel()
	}
	_ = os.RemoveAll(p.dir)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = ln.Close() }()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
