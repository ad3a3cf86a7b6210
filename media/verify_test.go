package media

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// The read-back catches a single changed byte anywhere in what was
// written and names it: the first byte of the disk, inside the partition
// table, at the edges of a 64 KiB block and of a write chunk, in the middle,
// and in the unaligned tail written without O_DIRECT. One write to a real
// loop device (O_DIRECT), then for each offset the byte is changed in the
// loop device's backing file, as a failing card changes data, and verify
// runs again; with every byte restored it passes.
func TestVerifyCatchesAChangedByteAnywhere(t *testing.T) {
	dir := t.TempDir()
	const chunk = 1 << 20
	size := int64(5<<20 + 3333) // not a multiple of the block size: a tail
	data := make([]byte, size)
	rand.New(rand.NewSource(7)).Read(data)
	copy(data[:chunk], make([]byte, chunk)) // a zero first chunk, like an MBR gap
	data[446] = 0x80
	img := filepath.Join(dir, "disk.img")
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	zst := compress(t, img, Zstd)
	back := t.TempDir()
	devPath := loopDevice(t, back, 8<<20, 0x5a)
	files, _ := filepath.Glob(filepath.Join(back, "stick-*.bin"))
	backing, err := os.OpenFile(files[0], os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer backing.Close()

	im, err := Inspect(zst)
	if err != nil {
		t.Fatal(err)
	}
	dev, err := OpenDevice(devPath, OpenOptions{Write: true, BlockSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	if !dev.Direct() {
		t.Fatal("the loop device did not open with O_DIRECT")
	}
	ctx := context.Background()
	src, err := im.Open(ctx, proc.Host{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f := newFeed(src, chunk, 6)
	e := f.attach(dev, 3, "", step.Discard)
	f.start(ctx)
	go f.run(nil)
	if err := e.wait(); err != nil {
		t.Fatal(err)
	}
	locate := func(off int64, got []byte) (int64, bool) {
		return locateIn(ctx, func() (*Stream, error) { return im.Open(ctx, proc.Host{}, nil) }, off, got)
	}
	res, err := e.verify(ctx, locate)
	if err != nil || res.mismatch != nil || res.bytes != size {
		t.Fatalf("clean device: %+v %v", res, err)
	}

	for _, off := range []int64{0, 446, 511, 512, verifyBlock - 1, verifyBlock, chunk - 1, chunk, 3*chunk + 12345,
		size - 3333 - 1, size - 3333, size - 1} {
		orig := data[off]
		if _, err := backing.WriteAt([]byte{orig ^ 0x01}, off); err != nil {
			t.Fatal(err)
		}
		res, err := e.verify(ctx, locate)
		if err != nil {
			t.Fatalf("offset %d: %v", off, err)
		}
		m := res.mismatch
		block := off / verifyBlock * verifyBlock
		if m == nil || !m.Exact || m.Offset != off || m.BlockEnd != min(block+verifyBlock, size) {
			t.Errorf("byte %d changed: mismatch %+v", off, m)
		}
		if _, err := backing.WriteAt([]byte{orig}, off); err != nil {
			t.Fatal(err)
		}
	}

	// Two changed bytes: the first in image order is the one reported,
	// whichever reader finished first.
	for _, off := range []int64{4*chunk + 7, 2*chunk + 9} {
		if _, err := backing.WriteAt([]byte{data[off] ^ 0xff}, off); err != nil {
			t.Fatal(err)
		}
	}
	res, err = e.verify(ctx, locate)
	if err != nil || res.mismatch == nil || res.mismatch.Offset != 2*chunk+9 {
		t.Errorf("two changes: %+v %v", res.mismatch, err)
	}

	// Bytes past the image's end are not part of the write.
	if _, err := backing.WriteAt([]byte{1, 2, 3}, size+10); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int64{4*chunk + 7, 2*chunk + 9} {
		if _, err := backing.WriteAt(data[off:off+1], off); err != nil {
			t.Fatal(err)
		}
	}
	if res, err := e.verify(ctx, locate); err != nil || res.mismatch != nil || res.bytes != size {
		t.Errorf("restored: %+v %v", res, err)
	}
}

// The file's SHA-256 is its own pipeline stage: whatever sizes the
// decompressor reads in, the sum is sha256sum's.
func TestFileDigestIsTheFilesSHA256(t *testing.T) {
	rnd := rand.New(rand.NewSource(3))
	data := make([]byte, 3*digestBuf+12345)
	rnd.Read(data)
	d := newFileDigest()
	for p := data; len(p) > 0; {
		n := min(len(p), rnd.Intn(3*digestBuf/2)+1)
		if _, err := d.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	want := sha256.Sum256(data)
	if got := d.Sum(); got != hex.EncodeToString(want[:]) || d.Sum() != got {
		t.Errorf("sum %s, want %x", got, want)
	}
	empty := sha256.Sum256(nil)
	if got := newFileDigest().Sum(); got != hex.EncodeToString(empty[:]) {
		t.Errorf("empty: %s", got)
	}
}

// The receipt's hash covers the whole file even where a bmap ends the
// write early: the raw image's unmapped tail (a hole after the last file
// system) is read for the hash, and so is the rest of the .zst.
func TestReceiptHashCoversTheWholeFileWithABmap(t *testing.T) {
	dir := t.TempDir()
	img := makeSDImage(t, dir, 48)
	// A hole at the end: bmaptool leaves it unmapped.
	if err := os.Truncate(img, 56<<20); err != nil {
		t.Fatal(err)
	}
	run(t, "bmaptool", "create", "-o", img+".bmap", img)
	zst := compress(t, img, Zstd)
	for _, path := range []string{img, zst} {
		dev := loopDevice(t, t.TempDir(), 64<<20, 0)
		p, rc, err := writeImage(t, Request{Image: path, Target: dev, AllowFixed: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		last := p.Bmap.span(p.Bmap.Ranges[len(p.Bmap.Ranges)-1])
		if last.off+last.n > 48<<20 {
			t.Fatalf("the bmap maps the hole: last range ends at %d", last.off+last.n)
		}
		st, _ := os.Stat(path)
		if want := sha256File(t, path, st.Size()); rc.Image.SHA256 != want {
			t.Errorf("%s: receipt sha256 %s, sha256sum %s", filepath.Base(path), rc.Image.SHA256, want)
		}
		if path == img && rc.Image.UncompressedSHA256 != rc.Image.SHA256 {
			t.Errorf("raw image: uncompressed sha256 %q", rc.Image.UncompressedSHA256)
		}
	}
}

// An image that changes between the checksum check and the write (a
// download still running) fails the write: the file is hashed again as it
// is written and must be the file that was checked.
func TestImageChangedAfterTheChecksumFailsTheWrite(t *testing.T) {
	dir := t.TempDir()
	img := makeSDImage(t, dir, 48)
	st, _ := os.Stat(img)
	sum := sha256File(t, img, st.Size())
	if err := os.WriteFile(img+".sha256", []byte(sum+"  nixos-sd.img\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dev := loopDevice(t, t.TempDir(), 64<<20, 0)
	sink := &events{on: func(ev step.Event) {
		if s, ok := ev.(Stage); ok && s.Stage == PhaseWrite && strings.HasPrefix(s.Message, "writing") {
			f, err := os.OpenFile(img, os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = f.WriteAt([]byte("changed"), 30<<20)
			f.Close()
		}
	}}
	_, rc, err := writeImage(t, Request{Image: img, Target: dev, AllowFixed: true}, sink)
	if causeOf(err) != "image-changed" || step.ExitCodeOf(err) != 1 || !strings.Contains(err.Error(), sum) {
		t.Fatalf("err %v", err)
	}
	if rc == nil || rc.Result != "failed" || rc.Verify.Result != "not-run" || rc.Image.SHA256 == sum {
		t.Errorf("receipt %+v", rc)
	}

	// Unchanged, the same checksum passes and the receipt carries it.
	st, _ = os.Stat(img)
	sum = sha256File(t, img, st.Size())
	if err := os.WriteFile(img+".sha256", []byte(sum+"  nixos-sd.img\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, rc, err = writeImage(t, Request{Image: img, Target: dev, AllowFixed: true}, nil)
	if err != nil || rc.Image.SHA256 != sum || rc.Image.UncompressedSHA256 != sum || rc.Image.Checksum.Matched != "image" {
		t.Fatalf("%v %+v", err, rc)
	}
}
