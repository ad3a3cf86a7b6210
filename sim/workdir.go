package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Every simulated part keeps its files (the stick's backing file, the demo
// installer, the flash replay scripts it then runs) under one directory per
// process: a fresh TMPDIR/jetup-sim-<pid>-<random> that os.MkdirTemp makes
// 0700, so no other user can have made it first or change what is in it
// (a fixed TMPDIR/jetup-sim was both). Cleanup removes it when jetup
// exits; the directories of this user's processes that died without
// cleaning up are removed the next time a simulated bench starts.
var work struct {
	once sync.Once
	dir  string
	err  error
}

const workPrefix = "jetup-sim-"

// workDir returns this process's directory, making it on first use.
func workDir() (string, error) {
	work.once.Do(func() {
		cleanStale(os.TempDir())
		work.dir, work.err = os.MkdirTemp("", fmt.Sprintf("%s%d-*", workPrefix, os.Getpid()))
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

// cleanStale removes the work directories of simulated benches whose
// process is gone: only real directories (not links) that belong to this
// user.
func cleanStale(tmp string) {
	es, _ := os.ReadDir(tmp)
	for _, e := range es {
		rest, ok := strings.CutPrefix(e.Name(), workPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		p := filepath.Join(tmp, e.Name())
		fi, err := os.Lstat(p)
		if err != nil || !fi.IsDir() {
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == os.Geteuid() {
			_ = os.RemoveAll(p)
		}
	}
}
