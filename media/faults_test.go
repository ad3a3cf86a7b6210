package media

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/step"
)

// Corrupt or truncated input stops the write, says where it broke and that
// the target is partly written.
func TestBrokenInputStopsTheWrite(t *testing.T) {
	dir := t.TempDir()
	img := makeSDImage(t, dir, 48)
	for _, f := range []Format{Zstd, XZ, Gzip, Bzip2} {
		path := compress(t, img, f)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(string(f)+"/truncated", func(t *testing.T) {
			cut := filepath.Join(t.TempDir(), filepath.Base(path))
			if err := os.WriteFile(cut, b[:len(b)*2/3], 0o644); err != nil {
				t.Fatal(err)
			}
			dev := loopDevice(t, t.TempDir(), 64<<20, 0)
			_, rc, err := writeImage(t, Request{Image: cut, Target: dev, AllowFixed: true}, nil)
			if causeOf(err) != "image-truncated" || step.ExitCodeOf(err) != 1 {
				t.Fatalf("err %v (cause %q)", err, causeOf(err))
			}
			msg := err.Error()
			if !strings.Contains(msg, "partly written") || !strings.Contains(msg, "of the file") || step.NextOf(err) == "" {
				t.Errorf("message %q", msg)
			}
			if rc == nil || !rc.PartlyWritten || rc.Result != "failed" {
				t.Errorf("receipt %+v", rc)
			}
		})
		t.Run(string(f)+"/bitflip", func(t *testing.T) {
			bad := append([]byte(nil), b...)
			for i := len(bad) / 3; i < len(bad)/3+64; i++ {
				bad[i] ^= 0x5a
			}
			flip := filepath.Join(t.TempDir(), filepath.Base(path))
			if err := os.WriteFile(flip, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			dev := loopDevice(t, t.TempDir(), 64<<20, 0)
			_, _, err := writeImage(t, Request{Image: flip, Target: dev, AllowFixed: true}, nil)
			if c := causeOf(err); c != "image-corrupt" && c != "image-truncated" {
				t.Fatalf("err %v (cause %q)", err, c)
			}
			if !strings.Contains(err.Error(), "broke at byte") {
				t.Errorf("no position in %q", err)
			}
		})
	}
}

// A checksum mismatch refuses before the target is touched.
func TestChecksumMismatchRefusesBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	img := compress(t, makeSDImage(t, dir, 48), Zstd)
	dev := loopDevice(t, t.TempDir(), 64<<20, 0x5a)
	wrong := strings.Repeat("ab", 32)
	if err := os.WriteFile(img+".sha256", []byte(wrong+"  nixos-sd.img.zst\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := writeImage(t, Request{Image: img, Target: dev, AllowFixed: true}, nil)
	if causeOf(err) != "checksum-mismatch" || step.ExitCodeOf(err) != 2 || !strings.Contains(err.Error(), img+".sha256") {
		t.Fatalf("err %v", err)
	}
	head := make([]byte, 1<<20)
	fd, _ := os.Open(dev)
	defer fd.Close()
	if _, err := fd.ReadAt(head, 0); err != nil || !bytes.Equal(head, bytes.Repeat([]byte{0x5a}, 1<<20)) {
		t.Fatal("the target was touched before the checksum was checked")
	}

	// The right sum of the uncompressed image in SHA256SUMS is found and
	// checked by decompressing.
	os.Remove(img + ".sha256")
	raw := strings.TrimSuffix(img, ".zst")
	st, _ := os.Stat(raw)
	sum := sha256File(t, raw, st.Size())
	if err := os.WriteFile(filepath.Join(dir, "SHA256SUMS"), []byte(sum+" *nixos-sd.img\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, rc, err := writeImage(t, Request{Image: img, Target: dev, AllowFixed: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c := rc.Image.Checksum; c == nil || c.Matched != "image" || c.Want != sum {
		t.Errorf("checksum %+v", c)
	}
	// The receipt keeps both: the file's hash, taken while writing, and
	// the uncompressed image's, which the check established.
	zst, _ := os.Stat(img)
	if rc.Image.SHA256 != sha256File(t, img, zst.Size()) || rc.Image.UncompressedSHA256 != sum {
		t.Errorf("receipt hashes %q %q", rc.Image.SHA256, rc.Image.UncompressedSHA256)
	}
	_, _, err = writeImage(t, Request{Image: img, Target: dev, AllowFixed: true, SHA256: "xyz"}, nil)
	if causeOf(err) != "bad-sha256" {
		t.Errorf("bad --sha256: %v", err)
	}
}

// A .bmap made by Debian's bmaptool: only mapped ranges are written and
// read back; the unmapped rest is zeroed by the device where it can.
func TestBmapWritesOnlyMappedRanges(t *testing.T) {
	testkit.NeedCommands(t, "bmaptool")
	dir := t.TempDir()
	img := makeSDImage(t, dir, 48)
	run(t, "bmaptool", "create", "-o", img+".bmap", img)
	zst := compress(t, img, Zstd)
	dev := loopDevice(t, t.TempDir(), 64<<20, 0xa5)
	var ev events
	p, rc, err := writeImage(t, Request{Image: zst, Target: dev, AllowFixed: true}, &ev)
	if err != nil {
		t.Fatal(err)
	}
	if p.Bmap == nil || rc.Bmap == nil || rc.Bmap.Mapped >= rc.Bmap.ImageSize || rc.Bytes != rc.Bmap.Mapped {
		t.Fatalf("bmap not used: %+v %+v", p.Bmap, rc.Bmap)
	}
	if rc.Verify.Result != "ok" {
		t.Fatalf("verify %+v", rc.Verify)
	}
	raw, _ := os.ReadFile(img)
	got := make([]byte, len(raw))
	fd, _ := os.Open(dev)
	defer fd.Close()
	if _, err := fd.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Bmap.Ranges {
		s := p.Bmap.span(r)
		if !bytes.Equal(got[s.off:s.off+s.n], raw[s.off:s.off+s.n]) {
			t.Fatalf("mapped range %d-%d differs", r.First, r.Last)
		}
	}
	// A loop device over a file on ext4 or tmpfs zeroes ranges by punching
	// holes in its file: the gaps are zeroed without being written.
	if !bytes.Equal(got, raw) || rc.Bmap.Zeroed == 0 || rc.Bmap.Gaps != GapsZeroed {
		t.Errorf("the unmapped space was not zeroed (%d bytes zeroed, gaps %q)", rc.Bmap.Zeroed, rc.Bmap.Gaps)
	}
	if !strings.Contains(rc.Text(), "the rest zeroed by the device") {
		t.Errorf("receipt text:\n%s", rc.Text())
	}

	// A bmap whose range checksum does not match the image fails the write.
	b, _ := os.ReadFile(img + ".bmap")
	r0 := p.Bmap.Ranges[len(p.Bmap.Ranges)-1].Checksum
	bad := strings.Replace(string(b), r0, strings.Repeat("0", len(r0)), 1)
	// Keep the file's own checksum right so only the range is wrong.
	fileSum := regexpFind(bad, `<BmapFileChecksum> ([0-9a-f]+) `)
	zeroed := strings.Replace(bad, fileSum, strings.Repeat("0", len(fileSum)), 1)
	bad = strings.Replace(bad, fileSum, sha256Hex([]byte(zeroed)), 1)
	if err := os.WriteFile(img+".bmap", []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = writeImage(t, Request{Image: zst, Target: dev, AllowFixed: true}, nil)
	if causeOf(err) != "bmap-mismatch" {
		t.Errorf("bad range checksum: %v", err)
	}
	if err := os.WriteFile(img+".bmap", []byte(strings.Replace(string(b), "<BlockSize> 4096", "<BlockSize> 4097", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = writeImage(t, Request{Image: zst, Target: dev, AllowFixed: true}, nil)
	if causeOf(err) != "bmap-invalid" || step.ExitCodeOf(err) != 2 {
		t.Errorf("edited bmap: %v", err)
	}
}

// An emulated stick that advertises write-zeroes but can only carry it out
// by writing zero pages (slowdisk: a loop device over a FUSE file, like
// many readers): the gaps the bmap leaves out are not zeroed at the cost
// of writing them. They keep what the stick held, as bmaptool leaves them,
// and the receipt says so.
func TestBmapGapsLeftWhereTheDeviceCannotZeroWithoutWriting(t *testing.T) {
	testkit.NeedCommands(t, "bmaptool")
	dir := t.TempDir()
	img := makeSDImage(t, dir, 48)
	run(t, "bmaptool", "create", "-o", img+".bmap", img)
	zst := compress(t, img, Zstd)
	stick := testkit.NewSlowDisk(t, 64, 400, 800)
	fill(t, stick.Dev, 64<<20, 0xa5)
	if wz := readString("/sys/block/" + filepath.Base(stick.Dev) + "/queue/write_zeroes_max_bytes"); wz == "0" {
		t.Fatalf("slowdisk no longer advertises write-zeroes: this test no longer tests the trap")
	}
	p, rc, err := writeImage(t, Request{Image: zst, Target: stick.Dev, AllowFixed: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Bmap == nil || rc.Bmap.Gaps != GapsLeft || rc.Bmap.Zeroed != 0 || rc.Verify.Result != "ok" {
		t.Fatalf("receipt %+v bmap %+v", rc, rc.Bmap)
	}
	if !strings.Contains(rc.Text(), "left as it was") {
		t.Errorf("receipt text:\n%s", rc.Text())
	}
	got := make([]byte, 48<<20)
	fd, err := os.Open(stick.Dev)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	if _, err := fd.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(img)
	var pos int64
	for _, r := range p.Bmap.Ranges {
		s := p.Bmap.span(r)
		if !bytes.Equal(got[s.off:s.off+s.n], raw[s.off:s.off+s.n]) {
			t.Fatalf("mapped range %d-%d differs", r.First, r.Last)
		}
		if s.off > pos && !bytes.Equal(got[pos:s.off], bytes.Repeat([]byte{0xa5}, int(s.off-pos))) {
			t.Fatalf("the gap %d-%d was written", pos, s.off)
		}
		pos = s.off + s.n
	}
}

// fill writes n bytes of b to a device, synced.
func fill(t *testing.T, dev string, n int64, b byte) {
	t.Helper()
	f, err := os.OpenFile(dev, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := bytes.Repeat([]byte{b}, 4<<20)
	for off := int64(0); off < n; off += int64(len(buf)) {
		if _, err := f.WriteAt(buf[:min(int64(len(buf)), n-off)], off); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
}

// A mounted loop device is refused without consent, refused while busy,
// and unmounted and written with consent.
func TestMountedTargetNeedsConsent(t *testing.T) {
	testkit.NeedCommands(t, "mkfs.ext4", "mount", "umount")
	dir := t.TempDir()
	img := makeSDImage(t, dir, 48)
	dev := loopDevice(t, t.TempDir(), 64<<20, 0)
	run(t, "mkfs.ext4", "-q", "-L", "OLDSTICK", dev)
	mnt := sharedMountPoint(t)
	run(t, "mount", dev, mnt)
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })

	ctx := context.Background()
	p, err := Prepare(ctx, hostEnv(), Request{Image: img, Target: dev, AllowFixed: true}, step.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Consent) != 1 || p.Consent[0].Cause != CauseMounted || !strings.Contains(p.Consent[0].What, mnt) {
		t.Fatalf("consent %+v", p.Consent)
	}
	if p.Contents == nil || p.Contents.FS == nil || p.Contents.FS.Label != "OLDSTICK" {
		t.Errorf("contents %+v", p.Contents)
	}
	if _, err := p.Execute(ctx, step.Discard); causeOf(err) != CauseMounted || step.ExitCodeOf(err) != 2 {
		t.Fatalf("without consent: %v", err)
	}
	busy, err := os.Create(filepath.Join(mnt, "open-file"))
	if err != nil {
		t.Fatal(err)
	}
	p.Req.Unmount = true
	if _, err := p.Execute(ctx, step.Discard); causeOf(err) != "busy" || !strings.Contains(step.NextOf(err), "fuser") {
		t.Fatalf("busy: %v", err)
	}
	busy.Close()
	rc, err := p.Execute(ctx, step.Discard)
	if err != nil || rc.Verify.Result != "ok" {
		t.Fatalf("with consent: %v %+v", err, rc)
	}
}

// A target that runs out of space mid-write (a loop device over a file on a
// full file system) gives a clear error and a partly-written receipt.
func TestTargetFailingMidWrite(t *testing.T) {
	testkit.NeedRoot(t)
	dir := t.TempDir()
	img := compress(t, makeSDImage(t, dir, 48), Bzip2) // bzip2: the size is unknown until the end
	small := t.TempDir()
	run(t, "mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", small)
	t.Cleanup(func() { _ = exec.Command("umount", "-l", small).Run() })
	dev := loopDevice(t, small, 64<<20, 0)
	_, rc, err := writeImage(t, Request{Image: img, Target: dev, AllowFixed: true}, nil)
	if c := causeOf(err); c != "target-full" && c != "target-io-error" {
		t.Fatalf("err %v (cause %q)", err, c)
	}
	if !strings.Contains(err.Error(), "at byte") || rc == nil || !rc.PartlyWritten || rc.Bytes == 0 {
		t.Errorf("err %q receipt %+v", err, rc)
	}
}

// EIO mid-write: the target is a loop device over a file on an ext4 that
// is shut down (EXT4_IOC_SHUTDOWN) once the write is under way.
func TestTargetIOErrorMidWrite(t *testing.T) {
	testkit.NeedRoot(t)
	dir := t.TempDir()
	img := compress(t, makeSDImage(t, dir, 48), Bzip2)
	fsDev := loopDevice(t, t.TempDir(), 128<<20, 0)
	run(t, "mkfs.ext4", "-q", fsDev)
	mnt := t.TempDir()
	run(t, "mount", fsDev, mnt)
	t.Cleanup(func() { _ = exec.Command("umount", "-l", mnt).Run() })
	dev := loopDevice(t, mnt, 64<<20, 0)
	var once sync.Once
	sink := &events{on: func(ev step.Event) {
		if p, ok := ev.(Progress); ok && p.Phase == PhaseWrite && p.Done > 0 {
			once.Do(func() { shutdownFS(t, mnt) })
		}
	}}
	_, rc, err := writeImage(t, Request{Image: img, Target: dev, AllowFixed: true, Chunk: 256 << 10}, sink)
	if c := causeOf(err); c != "target-io-error" {
		t.Fatalf("err %v (cause %q)", err, c)
	}
	if !strings.Contains(err.Error(), "input/output error") || rc == nil || !rc.PartlyWritten {
		t.Errorf("err %q receipt %+v", err, rc)
	}
}

// shutdownFS is `xfs_io -x -c shutdown` (EXT4_IOC_SHUTDOWN, flag NOLOGFLUSH):
// every later I/O on the file system fails with EIO.
func shutdownFS(t *testing.T, mnt string) {
	f, err := os.Open(mnt)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	const ext4IocShutdown = 0x8004587d // _IOR('X', 125, __u32)
	flag := uint32(2)                  // EXT4_GOING_FLAGS_NOLOGFLUSH
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), ext4IocShutdown, uintptr(unsafe.Pointer(&flag))); e != 0 {
		t.Errorf("shutdown: %v", e)
	}
}

// A device that does not hold what was written (the backing file changed
// between write and read-back, as a failing card loses data) fails the
// verify with the exact offset, here inside the first block: the partition
// table is read back too.
func TestVerifyFindsTheMismatchOffset(t *testing.T) {
	dir := t.TempDir()
	img := compress(t, makeSDImage(t, dir, 48), XZ)
	back := t.TempDir()
	dev := loopDevice(t, back, 64<<20, 0)
	files, _ := filepath.Glob(filepath.Join(back, "stick-*.bin"))
	sink := &events{on: func(ev step.Event) {
		if s, ok := ev.(Stage); ok && s.Stage == PhaseVerify {
			f, err := os.OpenFile(files[0], os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = f.WriteAt([]byte{0xee}, 447) // inside the first partition entry
			f.Close()
		}
	}}
	_, rc, err := writeImage(t, Request{Image: img, Target: dev, AllowFixed: true}, sink)
	if causeOf(err) != "verify-mismatch" || !strings.Contains(err.Error(), "at byte 447") {
		t.Fatalf("err %v", err)
	}
	if rc.Verify.Result != "mismatch" || rc.Verify.Mismatch == nil || rc.Verify.Mismatch.Offset != 447 || !rc.Verify.Mismatch.Exact {
		t.Errorf("receipt %+v", rc.Verify)
	}
}

// The disk chosen is pinned: the same /dev node now backed by something
// else is refused before anything is written.
func TestIdentityIsCheckedAgainBeforeOpening(t *testing.T) {
	dir := t.TempDir()
	img := makeSDImage(t, dir, 48)
	dev := loopDevice(t, t.TempDir(), 64<<20, 0)
	p, err := Prepare(context.Background(), hostEnv(), Request{Image: img, Target: dev, AllowFixed: true}, step.Discard)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other.bin")
	if err := os.WriteFile(other, make([]byte, 64<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "losetup", "-d", dev)
	run(t, "losetup", dev, other)
	_, err = p.Execute(context.Background(), step.Discard)
	if causeOf(err) != "identity-changed" || step.ExitCodeOf(err) != 2 || !strings.Contains(err.Error(), "backing file") {
		t.Fatalf("err %v", err)
	}
}

// sharedMountPoint is a directory that is a shared mount of its own, so a
// mount made on it and unmounted later is unmounted in every mount
// namespace made in between too (the test boards' sshd and other tests
// run in slave namespaces). Without it, a namespace another test made
// while the stick was mounted kept its own copy of the mount, and the
// device stayed busy after the write's consented unmount (make
// test-stress: "device is in use ... nothing was written"), as a real
// stick stays busy while a sandboxed program's namespace holds it.
func sharedMountPoint(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	run(t, "mount", "--bind", dir, dir)
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	run(t, "mount", "--make-shared", dir)
	return dir
}

// A stick still busy after jetup unmounted it, because a program's own
// mount namespace keeps a copy of the mount (a sandboxed app, a service
// with private mounts), is refused with that program named, not only
// "device is in use".
func TestBusyAfterUnmountNamesTheNamespaceThatHoldsIt(t *testing.T) {
	testkit.NeedCommands(t, "mkfs.ext4", "mount", "umount", "unshare", "sleep")
	img := makeSDImage(t, t.TempDir(), 48)
	dev := loopDevice(t, t.TempDir(), 64<<20, 0)
	run(t, "mkfs.ext4", "-q", "-L", "HELD", dev)
	mnt := t.TempDir()
	run(t, "mount", dev, mnt)
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	// The sandbox: a private copy of every mount, the stick's among them.
	held := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", `echo ready; exec sleep infinity`)
	out, err := held.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := held.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = held.Process.Kill(); _ = held.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("the sandbox did not start: %q %v", line, err)
	}

	ctx := context.Background()
	p, err := Prepare(ctx, hostEnv(), Request{Image: img, Target: dev, AllowFixed: true, Unmount: true}, step.Discard)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Execute(ctx, step.Discard)
	want := fmt.Sprintf("sleep (pid %d) has %s mounted at %s in another mount namespace", held.Process.Pid, dev, mnt)
	if causeOf(err) != "busy" || !strings.Contains(err.Error(), want) || !strings.Contains(step.NextOf(err), "nsenter -t PID -m umount") {
		t.Fatalf("err %v (next %q); want it to say %q", err, step.NextOf(err), want)
	}
}
