// Package dbfile explains why a bbolt database file could not be opened, for the stores that
// keep one in the data folder (registry, shadows, sessions, and the services after them).
package dbfile

import (
	"errors"
	"io/fs"
	"syscall"

	bolterrors "go.etcd.io/bbolt/errors"
)

// OpenHint says what an error opening a database file most likely means, as a parenthesis to
// append to the error's text: a lock held by another process (bbolt waits, then times out), or a
// file or folder that cannot be written. It is "" for any other error.
func OpenHint(err error) string {
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return " (is another process using it?)"
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS):
		return " (the file or its folder is not writable)"
	}
	return ""
}
