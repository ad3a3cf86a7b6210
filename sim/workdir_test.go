package sim

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
)

// resetWork makes the next workDir call start afresh under TMPDIR.
func resetWork(t *testing.T, tmp string) {
	t.Setenv("TMPDIR", tmp)
	work.once, work.dir, work.err = sync.Once{}, "", nil
	t.Cleanup(func() {
		Cleanup()
		work.once, work.dir, work.err = sync.Once{}, "", nil
	})
}

// Issue 21 finding 8: the simulator kept its files (replay scripts it then
// runs, the stick image) in a fixed TMPDIR/jetup-sim/<pid>, made with
// MkdirAll(0755) and no ownership check: another user who made it first
// could swap the script jetup runs. Now every process gets its own fresh
// private directory, whatever is already in TMPDIR.
func TestWorkDirIsPrivateWhateverTMPDIRHolds(t *testing.T) {
	testkit.NeedRoot(t) // to give the planted directory away
	nb, err := user.Lookup("nobody")
	testkit.Need(t, err == nil, "no nobody user")
	uid, _ := strconv.Atoi(nb.Uid)
	tmp := t.TempDir()
	planted := filepath.Join(tmp, "jetup-sim")
	mine := filepath.Join(planted, strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(mine, 0o777); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(mine, "flash.sh")
	_ = os.WriteFile(script, []byte("#!/bin/sh\ntouch "+filepath.Join(tmp, "ran")+"\n"), 0o777)
	for _, p := range []string{planted, mine, script} {
		_ = os.Chmod(p, 0o777)
		_ = os.Chown(p, uid, uid)
	}
	resetWork(t, tmp)

	dir, err := workDir()
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(dir, planted+string(filepath.Separator)) || dir == planted {
		t.Fatalf("work dir %s is inside the planted %s", dir, planted)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != os.Geteuid() || fi.Mode().Perm() != 0o700 || !fi.IsDir() {
		t.Errorf("work dir %s: owner %d mode %v", dir, st.Uid, fi.Mode())
	}
	// The planted files are left alone (not ours to remove) and not used.
	if _, err := os.Stat(script); err != nil {
		t.Errorf("the planted script was removed: %v", err)
	}
}

// A directory left by a simulated bench whose process is gone is removed;
// one of a live process, or another user's, is not.
func TestStaleWorkDirsAreCleaned(t *testing.T) {
	tmp := t.TempDir()
	resetWork(t, tmp)
	dead := filepath.Join(tmp, "jetup-sim-2147483646-1")
	live := filepath.Join(tmp, "jetup-sim-"+strconv.Itoa(os.Getpid())+"-1")
	for _, d := range []string{dead, live} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := workDir()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); err == nil {
		t.Error("a dead process's directory was kept")
	}
	if _, err := os.Stat(live); err != nil {
		t.Error("a live process's directory was removed")
	}
	Cleanup()
	if _, err := os.Stat(dir); err == nil {
		t.Error("Cleanup left the work dir")
	}
}
