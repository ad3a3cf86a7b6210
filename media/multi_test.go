package media

import (
	"bytes"
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// randomImage is a raw image of n bytes, half random, half text, and its
// zstd file.
func randomImage(t *testing.T, n int) (raw []byte, zst string) {
	t.Helper()
	raw = make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(raw[:n/2])
	copy(raw[n/2:], bytes.Repeat([]byte("nix store path "), n/2/15+1))
	img := filepath.Join(t.TempDir(), "multi.img")
	if err := os.WriteFile(img, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return raw, compress(t, img, Zstd)
}

// readDev reads the first n bytes of a device.
func readDev(t *testing.T, dev string, n int) []byte {
	t.Helper()
	f, err := os.Open(dev)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

// Three emulated sticks at once, the third dying 8 MiB in (every write
// past it fails with EIO, as a worn-out stick does): the other two are
// verified and hold the image, the dead one is closed off, named by its
// device and said to be thrown away, and the batch exits 1.
func TestThreeSticksOneDyingMidWrite(t *testing.T) {
	raw, zst := randomImage(t, 32<<20)
	good1 := testkit.NewSlowDisk(t, 48, 150, 300)
	good2 := testkit.NewSlowDisk(t, 48, 150, 300)
	dying := testkit.NewSlowDisk(t, 48, 150, 300, "SLOWDISK_FAIL_AT_MB=8")
	ctx := context.Background()
	var ev events
	b, err := PrepareBatch(ctx, hostEnv(), Request{Image: zst, AllowFixed: true}, []string{good1.Dev, dying.Dev, good2.Dev}, &ev)
	if err != nil {
		t.Fatal(err)
	}
	rcs, err := b.Execute(ctx, &ev)
	if causeOf(err) != CauseTargetsFailed || step.ExitCodeOf(err) != 1 {
		t.Fatalf("err %v (cause %q)", err, causeOf(err))
	}
	if len(rcs) != 3 {
		t.Fatalf("%d receipts", len(rcs))
	}
	dead := filepath.Base(dying.Dev)
	for i, dev := range []string{good1.Dev, good2.Dev} {
		rc := rcs[[]int{0, 2}[i]]
		if rc.Result != "verified" || rc.Verify.Result != "ok" || rc.Bytes != int64(len(raw)) || rc.Device.Path != dev {
			t.Errorf("%s: receipt %+v", dev, rc)
		}
		if !bytes.Equal(readDev(t, dev, len(raw)), raw) {
			t.Errorf("%s does not hold the image", dev)
		}
	}
	bad := rcs[1]
	if bad.Result != "failed" || bad.Cause != "target-io-error" || !bad.PartlyWritten || bad.FailedAt < 8<<20-DefaultChunk || bad.FailedAt > 8<<20 {
		t.Errorf("dying stick: %+v", bad)
	}
	if v := bad.Verdict(); !strings.Contains(v, "failed at 6 MiB") && !strings.Contains(v, "failed at 7 MiB") && !strings.Contains(v, "failed at 8 MiB") ||
		!strings.HasSuffix(v, "input/output error: throw it away") {
		t.Errorf("verdict %q", v)
	}
	msg := err.Error()
	if !strings.Contains(msg, "2 of 3 came out right") || !strings.Contains(msg, dead+" ") || strings.Contains(msg, filepath.Base(good1.Dev)+" ") {
		t.Errorf("error %q", msg)
	}
	res := strings.Join(Results(rcs), "\n")
	if !strings.Contains(res, "2 of 3 verified, 1 failed") || !strings.Contains(res, "BAD:  "+dead) || strings.Count(res, "good: ") != 2 {
		t.Errorf("results:\n%s", res)
	}
	// Each stick's events carry its name; the combined progress ends with
	// every verdict.
	var last *TargetsProgress
	named := map[string]bool{}
	ev.mu.Lock()
	for _, e := range ev.ev {
		switch e := e.(type) {
		case TargetsProgress:
			last = &e
		case Stage:
			named[e.Target] = true
		}
	}
	ev.mu.Unlock()
	if !named[dead] || !named[filepath.Base(good1.Dev)] {
		t.Errorf("stages by target: %v", named)
	}
	if last == nil || len(last.Targets) != 3 || last.Targets[1].Phase != "failed" || last.Targets[0].Phase != "verified" ||
		!strings.Contains(last.Text(), dead+" failed") {
		t.Errorf("last combined progress %+v", last)
	}
}

// A mounted stick among good ones refuses the whole batch before anything
// is written: the good ones keep every byte they had.
func TestMountedTargetAmongGoodOnesRefusesEverything(t *testing.T) {
	testkit.NeedCommands(t, "mkfs.ext4", "mount", "umount")
	_, zst := randomImage(t, 8<<20)
	a := loopDevice(t, t.TempDir(), 16<<20, 0x5a)
	m := loopDevice(t, t.TempDir(), 16<<20, 0)
	c := loopDevice(t, t.TempDir(), 16<<20, 0x5a)
	run(t, "mkfs.ext4", "-q", m)
	mnt := t.TempDir()
	run(t, "mount", m, mnt)
	t.Cleanup(func() { run(t, "umount", mnt) })
	ctx := context.Background()

	// Prepared while nothing is mounted, it is refused at Execute; with
	// the mount there from the start, at Prepare. Either way: exit 2 and
	// nothing written to any of them.
	b, err := PrepareBatch(ctx, hostEnv(), Request{Image: zst, AllowFixed: true}, []string{a, m, c}, step.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Consent()) != 1 || b.Consent()[0].Cause != CauseMounted {
		t.Fatalf("consent %+v", b.Consent())
	}
	rcs, err := b.Execute(ctx, step.Discard)
	if causeOf(err) != CauseMounted || step.ExitCodeOf(err) != 2 || rcs != nil {
		t.Fatalf("err %v rcs %v", err, rcs)
	}
	if !strings.Contains(err.Error(), "nothing was written to any of the 3 disks") || !strings.Contains(err.Error(), m) {
		t.Errorf("message %q", err)
	}
	for _, d := range []string{a, c} {
		if !bytes.Equal(readDev(t, d, 16<<20), bytes.Repeat([]byte{0x5a}, 16<<20)) {
			t.Errorf("%s was written", d)
		}
	}
	// ext4 keeps its first 1024 bytes zero (and may touch its superblock
	// while mounted); the image would have put random bytes there.
	if !bytes.Equal(readDev(t, m, 1024), make([]byte, 1024)) {
		t.Errorf("the mounted disk was written")
	}
}

// The same disk twice (by name and by a link to it), and a target that is
// gone between the check and the write: clear refusals, nothing written.
func TestSameTargetTwiceAndATargetGoneBeforeTheWrite(t *testing.T) {
	_, zst := randomImage(t, 4<<20)
	a := loopDevice(t, t.TempDir(), 8<<20, 0x5a)
	c := loopDevice(t, t.TempDir(), 8<<20, 0x5a)
	link := filepath.Join(t.TempDir(), "by-id-link")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err := PrepareBatch(ctx, hostEnv(), Request{Image: zst, AllowFixed: true}, []string{a, c, link}, step.Discard)
	if causeOf(err) != CauseTargetTwice || step.ExitCodeOf(err) != 2 || !strings.Contains(err.Error(), a+" and "+link+" are the same disk") {
		t.Fatalf("twice: %v", err)
	}
	b, err := PrepareBatch(ctx, hostEnv(), Request{Image: zst, AllowFixed: true}, []string{a, c}, step.Discard)
	if err != nil {
		t.Fatal(err)
	}
	run(t, "losetup", "-d", c)
	rcs, err := b.Execute(ctx, step.Discard)
	if causeOf(err) != "target-gone" || step.ExitCodeOf(err) != 2 || rcs != nil || !strings.Contains(err.Error(), "nothing was written to any of the 2 disks") {
		t.Fatalf("gone: %v", err)
	}
	if !bytes.Equal(readDev(t, a, 8<<20), bytes.Repeat([]byte{0x5a}, 8<<20)) {
		t.Errorf("%s was written", a)
	}
}

// Each target has its own queue: a fast stick is not held back by a slow
// one while the buffer holds (it is done, verified, while the slow one is
// not half way), and with a buffer of a few chunks the decoder waits for
// the slow one, which then paces the fast one.
func TestASlowStickDoesNotHoldBackAFastOne(t *testing.T) {
	raw, zst := randomImage(t, 48<<20)
	slow := testkit.NewSlowDisk(t, 64, 10, 200)
	fast := testkit.NewSlowDisk(t, 64, 200, 400)
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		buffer    int64
		heldBack  bool
		slowShare float64
	}{
		{"whole image buffered", 64 << 20, false, 0.5},
		// The pool never has fewer buffers than a target's writes in
		// flight and four more (16 MiB here): the fast one can be done
		// only once the slow one has written the rest (two thirds).
		{"four chunks", 4 * DefaultChunk, true, 0.55},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var slowDone int64
			atFastVerified := int64(-1)
			sink := step.SinkFunc(func(e step.Event) {
				mu.Lock()
				defer mu.Unlock()
				switch e := e.(type) {
				case Progress:
					if e.Target == filepath.Base(slow.Dev) && e.Phase == PhaseWrite {
						slowDone = e.Done
					}
				case Stage:
					if e.Target == filepath.Base(fast.Dev) && e.Stage == PhaseVerify && strings.HasPrefix(e.Message, "verified") {
						atFastVerified = slowDone
					}
				}
			})
			b, err := PrepareBatch(ctx, hostEnv(), Request{Image: zst, AllowFixed: true, Buffer: tc.buffer}, []string{slow.Dev, fast.Dev}, sink)
			if err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			rcs, err := b.Execute(ctx, sink)
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			at := atFastVerified
			mu.Unlock()
			share := float64(at) / float64(len(raw))
			t.Logf("%s: the fast stick was verified when the slow one had written %.0f%% (%.1fs in all)", tc.name, 100*share, time.Since(t0).Seconds())
			if at < 0 || rcs[0].Result != "verified" || rcs[1].Result != "verified" {
				t.Fatalf("fast stick never verified: %+v %+v", rcs[0], rcs[1])
			}
			if !tc.heldBack && share > tc.slowShare {
				t.Errorf("the fast stick waited for the slow one: verified at %.0f%% of the slow one's write", 100*share)
			}
			if tc.heldBack && share < tc.slowShare {
				t.Errorf("with a 4-chunk buffer the fast stick ran ahead: verified at %.0f%% of the slow one's write", 100*share)
			}
		})
	}
}

// A stick pulled out mid-write is told from a dying one: its writes fail
// with EIO all the same, but it is gone from the list, so it is named as
// pulled (plug it in and write it again), not to be thrown away; the
// others go on. The pull is emulated on the fake bench: the stick leaves
// /sys/block and /dev the moment it is opened (the sink is called on the
// writer's goroutine, before the first write), and its emulated device
// fails every write past 4 MiB.
func TestAStickPulledMidWriteIsNamedAsPulled(t *testing.T) {
	raw, zst := randomImage(t, 8<<20)
	fd := testkit.NewFakeDisks(t)
	a := loopDevice(t, t.TempDir(), 16<<20, 0x5a)
	c := loopDevice(t, t.TempDir(), 16<<20, 0x5a)
	pulled := testkit.NewSlowDisk(t, 16, 200, 400, "SLOWDISK_FAIL_AT_MB=4")
	fd.Plug("sdb", 1, a, true, "GOOD0001")
	fd.Plug("sdc", 2, pulled.Dev, true, "PULL0002")
	fd.Plug("sdd", 3, c, true, "GOOD0003")
	ctx := context.Background()
	env := Env{Edge: System{Root: fd.Root}, Runner: proc.Host{}}
	b, err := PrepareBatch(ctx, env, Request{Image: zst}, []string{"sdb", "sdc", "sdd"}, step.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sink := step.SinkFunc(func(e step.Event) {
		if s, ok := e.(Stage); ok && s.Target == "sdc" && s.Stage == "open" {
			fd.Unplug("sdc")
		}
	})
	rcs, err := b.Execute(ctx, sink)
	if causeOf(err) != CauseTargetsFailed || step.ExitCodeOf(err) != 1 {
		t.Fatalf("err %v", err)
	}
	if rc := rcs[1]; rc.Cause != "target-gone" || rc.Verdict() != "failed at 4 MiB: it disappeared (pulled out?): plug it in and write it again" {
		t.Errorf("pulled stick: cause %q, verdict %q", rc.Cause, rc.Verdict())
	}
	if !strings.Contains(strings.Join(Results(rcs), "\n"), "BAD:  sdc (usb 2-2, serial PULL0002) failed at 4 MiB: it disappeared (pulled out?)") {
		t.Errorf("results:\n%s", strings.Join(Results(rcs), "\n"))
	}
	for i, dev := range []string{a, c} {
		if rc := rcs[[]int{0, 2}[i]]; rc.Result != "verified" || !bytes.Equal(readDev(t, dev, len(raw)), raw) {
			t.Errorf("%s: %+v", dev, rc)
		}
	}
}
