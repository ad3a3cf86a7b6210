package flash

import (
	"os"
	"testing"
	"time"
)

// A writer that never closes (a process that escaped the run) and a
// reader slow to take what is there: the wait ends only once nothing is
// left unread, however long the reader takes, never on a timer alone.
func TestWaitDrainedOutlastsASlowReader(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close() // the stray holder: no end of output until the test ends
	const size = 16 << 10
	if _, err := w.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	returned := make(chan struct{})
	go func() {
		waitDrained(make(chan struct{}), r, time.Millisecond)
		close(returned)
	}()
	// The reader takes one byte at a time: far longer than the wait's
	// tick. The wait may only end once the last byte is taken.
	one := make([]byte, 1)
	for left := size; left > 0; left-- {
		select {
		case <-returned:
			t.Fatalf("the wait ended with %d bytes still unread", left)
		default:
		}
		if _, err := r.Read(one); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-returned:
	case <-time.After(time.Minute):
		t.Fatal("waited a minute for the wait to end once everything was read")
	}
}
