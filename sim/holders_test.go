package sim

import (
	"strings"
	"testing"
)

// The diagnostic names this process while the board is plugged in, and
// nobody once its cable is pulled.
func TestMasterHoldersNamesWhoHasThePty(t *testing.T) {
	b, err := NewBoard(BoardOptions{Dir: t.TempDir(), Speed: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if h := b.MasterHolders(); len(h) != 1 || !strings.Contains(h[0], ".test (pid ") {
		t.Errorf("plugged in: holders %v, want this test process", h)
	}
	b.Unplug()
	if h := b.MasterHolders(); len(h) != 0 {
		t.Errorf("unplugged: holders %v, want none", h)
	}
}
