package media

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/internal/testkit"
)

// inMountNamespace runs the calling test again in a process of its own in
// a new mount namespace (so its mounts never touch the machine's) and
// reports true in that process; in the parent it checks the child passed
// and reports false.
func inMountNamespace(t *testing.T) bool {
	t.Helper()
	testkit.NeedRoot(t)
	if os.Getenv("JETUP_TEST_MNTNS") == t.Name() {
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			t.Fatal(err)
		}
		return true
	}
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "JETUP_TEST_MNTNS="+t.Name())
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("in a mount namespace: %v\n%s", err, out)
	}
	return false
}

// mountedAt reports whether something is mounted at point, and its fs type.
func mountedAt(point string) (string, bool) {
	for _, m := range readMountinfo("/proc/self/mountinfo") {
		if m.point == point {
			return m.fstype, true
		}
	}
	return "", false
}

// loopMount makes an ext4 file system on a new loop device, mounts it at
// point and returns the Mount jetup's scan reports for it.
func loopMount(t *testing.T, point string) Mount {
	t.Helper()
	testkit.NeedCommands(t, "mkfs.ext4")
	dev := loopDevice(t, t.TempDir(), 16<<20, 0)
	run(t, "mkfs.ext4", "-q", dev)
	if err := os.MkdirAll(point, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dev, point, "ext4", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(point, unix.MNT_DETACH) })
	disks, err := System{}.Disks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range disks {
		if "/dev/"+d.Name == dev && len(d.Mounts) == 1 {
			return d.Mounts[0]
		}
	}
	t.Fatalf("the scan does not show %s mounted at %s", dev, point)
	return Mount{}
}

func tmpfsAt(t *testing.T, point string) {
	t.Helper()
	if err := os.MkdirAll(point, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", point, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(point, unix.MNT_DETACH) })
}

// Issue 21 finding 10: Unmount ran umount(path) as root on the path it had
// checked earlier. A directory above it swapped for a symlink, or another
// mount put in its place, made root unmount something else.
func TestUnmountOnlyTheMountThatWasChecked(t *testing.T) {
	if !inMountNamespace(t) {
		return
	}
	base := t.TempDir()
	ctx := context.Background()

	// The control: the checked mount is unmounted.
	plain := loopMount(t, filepath.Join(base, "plain"))
	if err := (System{}).Unmount(ctx, plain); err != nil {
		t.Fatalf("plain unmount: %v", err)
	}
	if _, ok := mountedAt(plain.Point); ok {
		t.Fatal("still mounted after Unmount")
	}

	// A busy mount is reported, not forced.
	busy := loopMount(t, filepath.Join(base, "busy"))
	f, err := os.Create(filepath.Join(busy.Point, "open"))
	if err != nil {
		t.Fatal(err)
	}
	if err := (System{}).Unmount(ctx, busy); !errors.Is(err, ErrBusy) {
		t.Errorf("busy: %v", err)
	}
	f.Close()
	if _, ok := mountedAt(busy.Point); !ok {
		t.Fatal("a busy mount was unmounted")
	}

	// A directory above the mount point renamed away (the mount goes with
	// it) and a symlink to another mount put in its place.
	checked := loopMount(t, filepath.Join(base, "x", "mnt"))
	victim := filepath.Join(base, "y", "mnt")
	tmpfsAt(t, victim)
	if err := os.Rename(filepath.Join(base, "x"), filepath.Join(base, "x-old")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Unmount(filepath.Join(base, "x-old", "mnt"), unix.MNT_DETACH) })
	if err := os.Symlink(filepath.Join(base, "y"), filepath.Join(base, "x")); err != nil {
		t.Fatal(err)
	}
	err = System{}.Unmount(ctx, checked)
	if fs, ok := mountedAt(victim); !ok || fs != "tmpfs" {
		t.Fatalf("the mount behind the symlink was unmounted (err %v)", err)
	}
	if err == nil || !strings.Contains(err.Error(), "moved") {
		t.Errorf("a moved mount: %v", err)
	}

	// The checked mount unmounted by someone else and another mounted in
	// its place: that one is left alone.
	replaced := loopMount(t, filepath.Join(base, "p"))
	if err := unix.Unmount(replaced.Point, 0); err != nil {
		t.Fatal(err)
	}
	tmpfsAt(t, replaced.Point)
	err = System{}.Unmount(ctx, replaced)
	if fs, ok := mountedAt(replaced.Point); !ok || fs != "tmpfs" {
		t.Fatalf("the mount put in its place was unmounted (err %v)", err)
	}
	if err != nil {
		t.Errorf("the checked mount is gone, which is what was wanted: %v", err)
	}
}
