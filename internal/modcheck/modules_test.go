package modcheck_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/outbound-go/outbound/internal/testenv"
)

// rootModule is the module path of the repository's root module.
const rootModule = "github.com/outbound-go/outbound"

// coreModules is the core list: the only modules the root module may
// require directly, and the only ones a program importing delivery, retry
// and classify may need.
var coreModules = map[string]bool{
	"golang.org/x/sync":            true,
	"golang.org/x/time":            true,
	"github.com/sony/gobreaker/v2": true,
	"github.com/golang-jwt/jwt/v5": true,
	"golang.org/x/oauth2":          true, // tokencache adapts oauth2.TokenSource; delivery imports tokencache
	"code.dny.dev/ssrf":            true, // the dial guard's IANA special-purpose ranges: data only, no dependencies
	"golang.org/x/net":             true, // dns/dnsmessage for httpclient's caching resolver; the Go project's own
	"github.com/stretchr/testify":  true, // tests only
	"go.uber.org/goleak":           true, // tests only
}

// heavyModules names the dependencies that must stay out of the root
// module's graph: each belongs in an adapter module of its own. A prefix
// ending in "/" matches every module under it; any other prefix matches
// that module path and the paths below it.
var heavyModules = []struct {
	name   string
	prefix string
}{
	{"pgx", "github.com/jackc/"},
	{"go-redis", "github.com/redis/"},
	{"Prometheus client", "github.com/prometheus/"},
	{"OpenTelemetry", "go.opentelemetry.io/"},
	{"SQLite (modernc)", "modernc.org/sqlite"},
	{"SQLite (cgo)", "github.com/mattn/go-sqlite3"},
	{"SQLite (wasm)", "github.com/ncruces/go-sqlite3"},
	{"SQLite (zombiezen)", "zombiezen.com/go/sqlite"},
	{"chromedp", "github.com/chromedp/"},
}

// matchesPrefix reports whether module path p is, or is under, prefix.
func matchesPrefix(p, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(p, prefix)
	}
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// runGo runs the go command in dir with GOWORK=off, so that the module in
// dir is seen as its users see it, and returns its standard output and
// standard error. Without the go command on PATH it skips the test with a
// message, or fails it in CI.
func runGo(t *testing.T, dir string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	goTool, lookErr := exec.LookPath("go")
	if lookErr != nil {
		msg := "modcheck: the go command is not on PATH; these tests run it to read the module graph"
		if testenv.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	cmd := exec.Command(goTool, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	stdout, err = cmd.Output()
	return stdout, errBuf.Bytes(), err
}

// goCommand runs the go command as runGo does and returns its standard
// output; it fails the test if the command fails, with what it printed.
func goCommand(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	stdout, stderr, err := runGo(t, dir, args...)
	if err != nil {
		t.Fatalf("go %s in %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), dir, err, stdout, stderr)
	}
	return stdout
}

// modFile is the part of `go mod edit -json`'s output the tests read.
type modFile struct {
	Module  struct{ Path string }
	Require []requirement
}

// requirement is one require line of a go.mod.
type requirement struct {
	Path     string
	Version  string
	Indirect bool
}

// readModFile returns the go.mod of the module in dir.
func readModFile(t *testing.T, dir string) modFile {
	t.Helper()
	var mf modFile
	require.NoError(t, json.Unmarshal(goCommand(t, dir, "mod", "edit", "-json"), &mf))
	return mf
}

// repoRoot returns the directory of the root module, two levels above this
// package's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	require.NoError(t, err)
	require.Equal(t, rootModule, readModFile(t, root).Module.Path, "modcheck: %s is not the root module", root)
	return root
}

// graphEdge is one line of `go mod graph`: from requires to. Both are
// module paths, without their versions.
type graphEdge struct{ from, to string }

// moduleGraph returns the edges of `go mod graph` run in dir.
func moduleGraph(t *testing.T, dir string) []graphEdge {
	t.Helper()
	var edges []graphEdge
	for line := range strings.Lines(string(goCommand(t, dir, "mod", "graph"))) {
		fields := strings.Fields(line)
		require.Len(t, fields, 2, "modcheck: unexpected go mod graph line %q", line)
		from, _, _ := strings.Cut(fields[0], "@")
		to, _, _ := strings.Cut(fields[1], "@")
		edges = append(edges, graphEdge{from, to})
	}
	return edges
}

func TestRootModuleGraphHasNoHeavyDependency(t *testing.T) {
	edges := moduleGraph(t, repoRoot(t))
	require.True(t, slices.ContainsFunc(edges, func(e graphEdge) bool { return e.from == rootModule }),
		"modcheck: go mod graph names no requirement of %s; is the graph read right?", rootModule)

	for _, heavy := range heavyModules {
		t.Run(heavy.name, func(t *testing.T) {
			for _, e := range edges {
				if matchesPrefix(e.to, heavy.prefix) {
					t.Errorf("the root module's graph names %s (%s, required by %s); "+
						"a package that needs it belongs in an adapter module of its own (see CHANGELOG.md)",
						e.to, heavy.name, e.from)
				}
			}
		})
	}
}

func TestRootModuleRequiresOnlyTheCoreList(t *testing.T) {
	root := repoRoot(t)
	neededByCore := map[string]bool{}
	for _, e := range moduleGraph(t, root) {
		if coreModules[e.from] {
			neededByCore[e.to] = true
		}
	}

	mf := readModFile(t, root)
	require.NotEmpty(t, mf.Require)
	for _, r := range mf.Require {
		switch {
		case coreModules[r.Path]:
		case r.Indirect && neededByCore[r.Path]:
			// kept in go.mod because a core module needs it (module graph pruning)
		case r.Indirect:
			t.Errorf("the root go.mod requires %s %s (indirect), which no module of the core list needs", r.Path, r.Version)
		default:
			t.Errorf("the root go.mod requires %s %s, which is not on the core list %v; "+
				"a package that needs it belongs in an adapter module of its own (see CHANGELOG.md)",
				r.Path, r.Version, slices.Sorted(maps.Keys(coreModules)))
		}
	}
}

func TestCoreOnlyProgramNeedsOnlyTheCoreList(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "internal", "modcheck", "coreonly")

	// Tidy first: if delivery, retry or classify gained an import from a
	// module outside the core, tidy would add it, and the diff fails here.
	if diff, stderr, err := runGo(t, dir, "mod", "tidy", "-diff"); err != nil {
		t.Fatalf("coreonly's go.mod is not what `go mod tidy` makes of it (%v): delivery, retry or classify "+
			"gained a dependency, or the go.mod was edited by hand; tidy would change:\n%s%s", err, diff, stderr)
	}

	mf := readModFile(t, dir)
	require.True(t, slices.ContainsFunc(mf.Require, func(r requirement) bool { return r.Path == rootModule }),
		"modcheck: coreonly's go.mod does not require %s", rootModule)
	for _, r := range mf.Require {
		assert.True(t, r.Path == rootModule || coreModules[r.Path],
			"coreonly imports only delivery, retry and classify, yet its go.mod requires %s %s, which is not on the core list", r.Path, r.Version)
	}

	bin := filepath.Join(t.TempDir(), "coreonly")
	goCommand(t, dir, "build", "-o", bin, ".")
	out, err := exec.Command(bin).Output()
	require.NoError(t, err, "coreonly printed %q", out)
	assert.Equal(t, "m-1: ok after 3 attempts\n", string(out))
}

func TestWorkspaceListsEveryModule(t *testing.T) {
	root := repoRoot(t)

	var modules []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
			return fs.SkipDir
		}
		if !d.IsDir() && d.Name() == "go.mod" {
			modules = append(modules, filepath.Dir(path))
		}
		return nil
	})
	require.NoError(t, err)
	require.Contains(t, modules, root)

	workFile := filepath.Join(root, "go.work")
	if _, err := os.Stat(workFile); errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("modcheck: %s is missing; it lists every module so that `go test work` tests them all", workFile)
	}
	var work struct{ Use []struct{ DiskPath string } }
	require.NoError(t, json.Unmarshal(goCommand(t, root, "work", "edit", "-json", workFile), &work))
	var used []string
	for _, u := range work.Use {
		used = append(used, filepath.Join(root, u.DiskPath))
	}

	for _, m := range modules {
		rel, err := filepath.Rel(root, m)
		require.NoError(t, err)
		assert.Contains(t, used, m, "go.work does not use ./%s, so `go test work` skips its tests (add it with `go work use ./%s`)", rel, rel)
	}
}
