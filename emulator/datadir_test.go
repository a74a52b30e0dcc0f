package emulator

import (
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestDataDirErrors(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want []string
	}{
		{&fs.PathError{Op: "open", Path: "/x/.write-test", Err: syscall.EROFS}, []string{"read-only file system", "--data"}},
		{&fs.PathError{Op: "open", Path: "/x/.write-test", Err: syscall.EACCES}, []string{"not writable", "--data"}},
		{&fs.PathError{Op: "mkdir", Path: "/x", Err: syscall.ENOSPC}, []string{"cannot use data folder", "--data"}},
	} {
		msg := dataDirError("/x", tc.err).Error()
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%v: %q lacks %q", tc.err, msg, w)
			}
		}
		if strings.Contains(msg, "another process") {
			t.Errorf("%q blames another process", msg)
		}
	}
}

// A data folder without write permission is refused at start with a message naming --data.
// (root writes anywhere, so the check is skipped for it.)
func TestReadOnlyDataFolderRefused(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores folder permissions")
	}
	dir := filepath.Join(t.TempDir(), "state")
	if err := os.Mkdir(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	cfg := TestConfig(dir)
	cfg.Logger = slog.New(slog.DiscardHandler)
	emu, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = emu.Start(t.Context())
	if err == nil || !strings.Contains(err.Error(), "--data") || strings.Contains(err.Error(), "another process") {
		t.Fatalf("Start = %v, want an error naming --data", err)
	}
}
