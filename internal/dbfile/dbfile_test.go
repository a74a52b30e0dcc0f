package dbfile

import (
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	bolterrors "go.etcd.io/bbolt/errors"
)

// Only a lock timeout blames another process; a read-only file or folder says so.
func TestOpenHint(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{bolterrors.ErrTimeout, "another process"},
		{&fs.PathError{Op: "open", Path: "r.db", Err: syscall.EROFS}, "not writable"},
		{fmt.Errorf("open: %w", &fs.PathError{Op: "open", Path: "r.db", Err: syscall.EACCES}), "not writable"},
		{&fs.PathError{Op: "open", Path: "r.db", Err: syscall.EIO}, ""},
	} {
		got := OpenHint(tc.err)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("%v: hint %q, want %q", tc.err, got, tc.want)
		}
	}
}
