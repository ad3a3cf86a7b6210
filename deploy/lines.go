package deploy

import (
	"io"
	"sync"
)

// lockedWriter serialises writes from the goroutines of one push (the ssh
// client's stderr, nix's log, the board's output) into one log.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
