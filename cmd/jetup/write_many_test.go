package main

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/runrec"
)

// loopOver attaches a loop device over a new file of size bytes filled
// with fill, detached when the test ends.
func loopOver(t *testing.T, size int, fill byte) (dev, back string) {
	t.Helper()
	testkit.NeedRoot(t)
	testkit.NeedCommands(t, "losetup")
	back = filepath.Join(t.TempDir(), "stick.bin")
	if err := os.WriteFile(back, bytes.Repeat([]byte{fill}, size), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", back).Output()
	if err != nil {
		t.Fatal(err)
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", dev).Run() })
	return dev, back
}

// Several sticks at once from the command line: --target three times,
// --json gives one receipt per stick, run.json keeps them all, and each
// stick holds the image. With a dying emulated stick among them, the text
// face names the bad one and exits 1; a mounted one refuses them all
// (exit 2) before anything is written.
func TestWriteSeveralSticks(t *testing.T) {
	testkit.NeedCommands(t, "zstd")
	dir := t.TempDir()
	img := filepath.Join(dir, "installer.img")
	data := make([]byte, 12<<20)
	rand.New(rand.NewSource(3)).Read(data[:6<<20])
	copy(data[6<<20:], bytes.Repeat([]byte("jetup installer "), 6<<16))
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("zstd", "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	a, backA := loopOver(t, 16<<20, 0)
	b, backB := loopOver(t, 16<<20, 0)
	c, backC := loopOver(t, 16<<20, 0)

	state := t.TempDir()
	r := jetupIn(t, "", state, "write", "--image", img+".zst", "--target", a, "--target", b, "--target", c, "--yes", "--allow-fixed", "--json")
	if r.code != 0 {
		t.Fatalf("%+v", r)
	}
	var receipts []media.Receipt
	var combined int
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		if _, ok := m["targets"]; ok {
			combined++
		}
		if _, ok := m["device"]; ok {
			var rc media.Receipt
			_ = json.Unmarshal([]byte(l), &rc)
			receipts = append(receipts, rc)
		}
	}
	if len(receipts) != 3 || combined == 0 {
		t.Fatalf("%d receipts, %d combined progress lines:\n%s", len(receipts), combined, r.stdout)
	}
	for i, dev := range []string{a, b, c} {
		if rc := receipts[i]; rc.Device.Path != dev || rc.Result != "verified" || rc.Target != filepath.Base(dev) {
			t.Errorf("receipt %d: %+v", i, rc)
		}
	}
	for _, back := range []string{backA, backB, backC} {
		got, _ := os.ReadFile(back)
		if !bytes.Equal(got[:len(data)], data) {
			t.Errorf("%s does not hold the image", back)
		}
	}
	runs, _, _ := runrec.List(state)
	var rec media.BatchRecord
	if err := json.Unmarshal(runs[len(runs)-1].Steps[0].Details, &rec); err != nil || len(rec.Targets) != 3 || rec.Targets[2].Device.Path != c {
		t.Errorf("run.json: %v %+v", err, rec)
	}

	// A dying stick among them.
	dying := testkit.NewSlowDisk(t, 16, 200, 400, "SLOWDISK_FAIL_AT_MB=4")
	r = jetupIn(t, "", state, "write", "--image", img+".zst", "--target", a, "--target", dying.Dev, "--target", b, "--yes", "--allow-fixed")
	dead := filepath.Base(dying.Dev)
	if r.code != 1 || !strings.Contains(r.stdout, "2 of 3 verified, 1 failed") ||
		!strings.Contains(r.stdout, "BAD:  "+dead+" failed at 4 MiB: input/output error: throw it away") ||
		!strings.Contains(r.stderr, dead) {
		t.Errorf("dying stick: %+v", r)
	}

	// A mounted one among them: nothing written anywhere.
	testkit.NeedCommands(t, "mkfs.ext4", "mount", "umount")
	m, _ := loopOver(t, 16<<20, 0)
	if out, err := exec.Command("mkfs.ext4", "-q", m).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", m, mnt).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	fresh, backFresh := loopOver(t, 16<<20, 0x5a)
	r = jetupIn(t, "", state, "write", "--image", img+".zst", "--target", fresh, "--target", m, "--yes", "--allow-fixed")
	if r.code != 2 || !strings.Contains(r.stderr, "mounted partitions") || !strings.Contains(r.stderr, "nothing was written") {
		t.Errorf("mounted: %+v", r)
	}
	if got, _ := os.ReadFile(backFresh); !bytes.Equal(got, bytes.Repeat([]byte{0x5a}, 16<<20)) {
		t.Error("a stick was written although another was refused")
	}
	// The same stick twice.
	r = jetupIn(t, "", state, "write", "--image", img+".zst", "--target", fresh, "--target", filepath.Base(fresh), "--yes", "--allow-fixed")
	if r.code != 2 || !strings.Contains(r.stderr, "are the same disk") {
		t.Errorf("twice: %+v", r)
	}
}

// Sticks on USB ports (loop devices shown as USB sticks in a fake sysfs,
// one of them a dying emulated stick): the end names each by device, USB
// port and serial, so the technician knows which card to pull and which
// to throw away, as the "sdd failed at 112 MiB" says it; no
// --allow-fixed is needed for them.
func TestWriteSeveralSticksNamesEachByPortAndSerial(t *testing.T) {
	testkit.NeedCommands(t, "zstd")
	dir := t.TempDir()
	img := filepath.Join(dir, "installer.img")
	data := make([]byte, 8<<20)
	rand.New(rand.NewSource(5)).Read(data)
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("zstd", "-q", img).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	bench := testkit.NewFakeDisks(t)
	a, backA := loopOver(t, 16<<20, 0)
	c, backC := loopOver(t, 16<<20, 0)
	dying := testkit.NewSlowDisk(t, 16, 200, 400, "SLOWDISK_FAIL_AT_MB=4")
	bench.Plug("sdb", 1, a, true, "GOOD0001")
	bench.Plug("sdc", 2, c, true, "GOOD0002")
	bench.Plug("sdd", 3, dying.Dev, true, "DEAD0003")
	r := jetupIn(t, "", t.TempDir(), "write", "--image", img+".zst", "--disks-root", bench.Root,
		"--target", "sdb", "--target", "sdc", "--target", "sdd", "--yes")
	for _, want := range []string{"2 of 3 verified, 1 failed", "good: sdb (usb 2-1, serial GOOD0001) verified", "good: sdc (usb 2-2, serial GOOD0002) verified",
		"BAD:  sdd (usb 2-3, serial DEAD0003) failed at 4 MiB: input/output error: throw it away"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("lacks %q: %+v", want, r)
		}
	}
	if r.code != 1 {
		t.Errorf("exit %d, want 1", r.code)
	}
	for _, back := range []string{backA, backC} {
		if got, _ := os.ReadFile(back); !bytes.Equal(got[:len(data)], data) {
			t.Errorf("%s does not hold the image", back)
		}
	}
}
