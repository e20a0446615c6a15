// Package sqlitepath checks a path before a SQLite database is opened on
// it for writing, so that the SQLite stores (delivery/sqlite,
// tokencache/sqlite) refuse a bad path with a clear error instead of
// creating a directory's worth of surprises or opening a file read-only.
//
//	if err := sqlitepath.Check(cfg.Path); err != nil {
//		return fmt.Errorf("mystore: %w", err) // errors.Is(err, sqlitepath.ErrBadPath) for a path wrong in itself
//	}
package sqlitepath

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ErrBadPath is wrapped by Check's errors for a path that is wrong in
// itself: empty, not a plain file path, in something that is not a
// directory, not a regular file, or read-only.
var ErrBadPath = errors.New("bad database path")

// Check returns nil if path may be opened as a SQLite database for
// writing: a plain file path (no '?', no file: URI, not :memory:) in an
// existing directory, naming nothing yet or a writable regular file. Its
// error names what is wrong; it wraps ErrBadPath, or the file system's
// error (fs.ErrNotExist for a missing directory). It creates nothing.
func Check(path string) error {
	if path == "" {
		return fmt.Errorf("%w: Config.Path is required", ErrBadPath)
	}
	if strings.ContainsAny(path, "?\x00") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return fmt.Errorf("%w: path %q must be a plain file path (no '?', no file: URI, not :memory:)", ErrBadPath, path)
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil {
		return fmt.Errorf("open %q: directory %q: %w", path, dir, err)
	} else if !st.IsDir() {
		return fmt.Errorf("%w: open %q: %q is not a directory", ErrBadPath, path, dir)
	}
	st, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %q: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: open %q: not a regular file", ErrBadPath, path)
	}
	// Checked on the mode bits too, since a superuser may write any file:
	// a file nobody may write was made read-only on purpose.
	if st.Mode().Perm()&0o222 == 0 {
		return fmt.Errorf("%w: open %q: the file is read-only (mode %v)", ErrBadPath, path, st.Mode().Perm())
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("open %q: the file is not writable: %w", path, err)
	}
	return f.Close()
}
