package emulator

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// checkWritable makes sure the state folder can be written before any store opens it, so that a
// read-only folder is reported as such (and not as a database another process holds).
func checkWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return dataDirError(dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// dataDirError explains why the state folder cannot be used, naming the flag that picks another.
func dataDirError(dir string, err error) error {
	switch {
	case errors.Is(err, syscall.EROFS):
		return fmt.Errorf("data folder %s is on a read-only file system; choose a writable folder with --data: %w", dir, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("data folder %s is not writable (permission denied); choose a writable folder with --data, or fix its permissions: %w", dir, err)
	}
	return fmt.Errorf("cannot use data folder %s (--data): %w", dir, err)
}
