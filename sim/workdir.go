package sim

import (
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// Every simulated part keeps its files (the stick's backing file, the demo
// installer, the flash replay scripts) under one directory per process,
// TMPDIR/jetup-sim/<pid>: Cleanup removes it when jetup exits, and the
// directories of processes that died without cleaning up are removed the
// next time a simulated bench starts.
var work struct {
	once sync.Once
	dir  string
	err  error
}

func workBase() string { return filepath.Join(os.TempDir(), "jetup-sim") }

// workDir returns this process's directory, making it on first use.
func workDir() (string, error) {
	work.once.Do(func() {
		cleanStale(workBase())
		work.dir = filepath.Join(workBase(), strconv.Itoa(os.Getpid()))
		work.err = os.MkdirAll(work.dir, 0o755)
	})
	return work.dir, work.err
}

// Cleanup removes this process's simulated files. cmd/jetup calls it on
// exit under --sim.
func Cleanup() {
	if work.dir != "" {
		_ = os.RemoveAll(work.dir)
	}
}

// cleanStale removes the directories of simulated benches whose process is
// gone.
func cleanStale(base string) {
	es, _ := os.ReadDir(base)
	for _, e := range es {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && syscall.Kill(pid, 0) == syscall.ESRCH {
			_ = os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
}
