package bolt_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shiplog/shiplog/pkg/bolt"
)

// TestDamagedFileRefusedTwice: a damaged file is refused with what is wrong with it, and the
// refusal lets go of the file: opening it again says the same, not that another process holds it.
func TestDamagedFileRefusedTwice(t *testing.T) {
	whole := writeFullStore(t, filepath.Join(t.TempDir(), "whole.db"))
	for _, c := range corruptions {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "shiplog.db")
			if err := os.WriteFile(path, c.cut(whole), 0o600); err != nil {
				t.Fatal(err)
			}
			var first string
			for i := range 2 {
				s, err := bolt.Open(path)
				if err == nil {
					s.Close()
					t.Fatalf("open %d: got a store, want an error", i)
				}
				if strings.Contains(err.Error(), "locked by another process") {
					t.Fatalf("open %d: got %q: the refused open kept the file", i, err)
				}
				if i == 0 {
					first = err.Error()
				} else if err.Error() != first {
					t.Errorf("open 1: got %q, want what open 0 said: %q", err, first)
				}
			}
			if strings.Contains(c.name, "file") && !strings.Contains(first, "cut short") && strings.Contains(c.name, "half") {
				t.Errorf("a file cut in half: got %q, want it said to be cut short", first)
			}
		})
	}
}
