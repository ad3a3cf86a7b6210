package media

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/jetup/jetup/step"
)

// TestWriteEveryFormatToALoopDevice writes a real SD image (FAT32 with the
// real EDK2 firmware, ext4) compressed each way to a real loop device and
// checks the device byte for byte.
func TestWriteEveryFormatToALoopDevice(t *testing.T) {
	dir := t.TempDir()
	img := makeSDImage(t, dir, 48)
	raw, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	want := sha256File(t, img, int64(len(raw)))
	for _, f := range []Format{Raw, Zstd, XZ, Gzip, Bzip2} {
		t.Run(string(f), func(t *testing.T) {
			path := compress(t, img, f)
			dev := loopDevice(t, t.TempDir(), 64<<20, 0xa5)
			var ev events
			p, rc, err := writeImage(t, Request{Image: path, Target: dev, AllowFixed: true}, &ev)
			if err != nil {
				t.Fatalf("%v\n%s", err, ev.json())
			}
			if p.Image.Format != f {
				t.Errorf("format %s, want %s", p.Image.Format, f)
			}
			if rc.Result != "verified" || rc.Verify.Result != "ok" || rc.Verify.Bytes != int64(len(raw)) || rc.Verify.Method == "" {
				t.Errorf("receipt %+v", rc)
			}
			// The receipt's hash is the file's, as sha256sum prints it; the
			// uncompressed image's only where it is known for free.
			st, _ := os.Stat(path)
			wantUncompressed := ""
			if f == Raw {
				wantUncompressed = want
			}
			if rc.Image.SHA256 != sha256File(t, path, st.Size()) || rc.Image.UncompressedSHA256 != wantUncompressed {
				t.Errorf("image hashes %q %q", rc.Image.SHA256, rc.Image.UncompressedSHA256)
			}
			if rc.Bytes != int64(len(raw)) || rc.Image.Size != int64(len(raw)) {
				t.Errorf("wrote %d bytes, image %d", rc.Bytes, len(raw))
			}
			got := make([]byte, len(raw)+4096)
			fd, err := os.Open(dev)
			if err != nil {
				t.Fatal(err)
			}
			defer fd.Close()
			if _, err := fd.ReadAt(got, 0); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[:len(raw)], raw) {
				t.Fatal("the device does not hold the image")
			}
			if !bytes.Equal(got[len(raw):], bytes.Repeat([]byte{0xa5}, 4096)) {
				t.Error("bytes past the image's end were changed")
			}
			if !strings.Contains(ev.json(), `"phase":"verify"`) {
				t.Error("no verify progress")
			}
		})
	}
}

func TestProbeReadsWhatWillBeErased(t *testing.T) {
	dir := t.TempDir()
	img := makeSDImage(t, dir, 48)
	f, err := os.Open(img)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	c := Probe(f, st.Size())
	lines := strings.Join(c.Lines(), "\n")
	if c.Table != "mbr" || len(c.Partitions) != 2 || !strings.Contains(lines, `vfat "FIRMWARE"`) || !strings.Contains(lines, `ext4 "NIXOS_SD"`) {
		t.Errorf("contents %+v\n%s", c, lines)
	}
	_ = step.Discard
}
