package bolt

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/shiplog/shiplog/pkg/shiplog"
)

// TestFaults: each fault of the file system is said as what it is, when the store is opened and
// when it writes; only other errors are taken for a damaged file.
func TestFaults(t *testing.T) {
	const path = "/data/shiplog.db"
	pathErr := func(op string, errno syscall.Errno) error {
		return fmt.Errorf("commit: %w", &os.PathError{Op: op, Path: path, Err: errno})
	}
	tests := []struct {
		name     string
		err      error
		open     string // in Open's error
		write    string // in the write's Unavailable message; "" if not Unavailable
		notOpen  string // never in Open's error
		kindKept bool   // the write's error is left as it is
	}{
		{"a full disk", pathErr("write", syscall.ENOSPC), "the disk is full; free some space", "the store cannot write its file: the disk is full", "backup", false},
		{"a quota", pathErr("write", syscall.EDQUOT), "the disk is full", "the disk is full", "backup", false},
		{"a read-only file system", pathErr("open", syscall.EROFS), "the file system is read-only: shiplog must be able to read and write", "the file system is read-only", "backup", false},
		{"a read-only file", pathErr("open", syscall.EACCES), path + ": permission denied: shiplog must be able to read and write the file", "permission denied", "backup", false},
		{"not permitted", pathErr("open", syscall.EPERM), "permission denied", "permission denied", "backup", false},
		{"a directory", pathErr("open", syscall.EISDIR), "it is a directory; give the path of the store's file in it, such as /data/shiplog.db/shiplog.db", "it is a directory", "backup", false},
		{"a damaged file", errors.New("invalid database"), "is not a whole shiplog store", "", "permission", true},
		{"an I/O error", pathErr("read", syscall.EIO), "restore it from a backup", "", "permission", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open := openFault(path, tt.err).Error()
			if !strings.Contains(open, tt.open) || strings.Contains(open, tt.notOpen) || !strings.Contains(open, "open store "+path) {
				t.Errorf("openFault: got %q, want it to name the file and contain %q, not %q", open, tt.open, tt.notOpen)
			}
			if !tt.kindKept && !errors.Is(openFault(path, tt.err), tt.err) {
				t.Errorf("openFault: the cause %v is lost", tt.err)
			}
			w := writeFault(tt.err)
			switch {
			case tt.kindKept && w != tt.err:
				t.Errorf("writeFault: got %v, want the error as it is", w)
			case !tt.kindKept && (shiplog.KindOf(w) != shiplog.Unavailable || !strings.Contains(shiplog.MessageOf(w), tt.write)):
				t.Errorf("writeFault: got %v %q, want Unavailable saying %q", shiplog.KindOf(w), shiplog.MessageOf(w), tt.write)
			}
		})
	}
	// A domain error out of a write's function is never re-kinded.
	conflict := shiplog.Errorf(shiplog.Conflict, "changed meanwhile")
	if got := writeFault(conflict); got != conflict {
		t.Errorf("writeFault of a Conflict: got %v, want it as it is", got)
	}
	if writeFault(nil) != nil {
		t.Error("writeFault(nil): got an error")
	}
}
