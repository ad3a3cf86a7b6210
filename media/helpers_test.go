package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

const firmware = "/usr/share/qemu-efi-aarch64/QEMU_EFI.fd"

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// makeSDImage builds an image the way nixpkgs' sd-image.nix does, at a
// small size: an MBR, an 8 MiB gap, a FAT32 partition "FIRMWARE" holding
// real UEFI firmware, and an ext4 "NIXOS_SD" with random files. It
// returns the path.
func makeSDImage(t testing.TB, dir string, mib int) string {
	t.Helper()
	testkit.NeedCommands(t, "sfdisk", "mkfs.vfat", "mkfs.ext4", "mcopy")
	_, err := os.Stat(firmware)
	testkit.Need(t, err == nil, "qemu-efi-aarch64 is not installed (make test installs it)")
	img := filepath.Join(dir, "nixos-sd.img")
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(int64(mib) << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cmd := exec.Command("sfdisk", "--quiet", img)
	cmd.Stdin = strings.NewReader("label: dos\nstart=16384, size=65536, type=b\nstart=81920, type=83\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	run(t, "mkfs.vfat", "-n", "FIRMWARE", "--offset", "16384", img, "32768")
	run(t, "mcopy", "-i", img+"@@"+strconv.Itoa(16384*512), firmware, "::QEMU_EFI.fd")
	root := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(filepath.Join(root, "nix", "store"), 0o755); err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewSource(int64(mib)))
	for i := 0; i < 4; i++ {
		b := make([]byte, 1<<20+rnd.Intn(1<<20))
		rnd.Read(b)
		if err := os.WriteFile(filepath.Join(root, "nix", "store", "blob"+strconv.Itoa(i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rootSize := (int64(mib) << 20) - 81920*512
	run(t, "mkfs.ext4", "-q", "-F", "-L", "NIXOS_SD", "-d", root, "-E", "offset="+strconv.Itoa(81920*512), img, strconv.FormatInt(rootSize>>10, 10)+"k")
	return img
}

// compress makes IMG.EXT with the real tool and returns its path.
func compress(t testing.TB, img string, f Format) string {
	t.Helper()
	var name string
	var args []string
	switch f {
	case Raw:
		return img
	case Zstd:
		name, args = "zstd", []string{"-q", "-T0", "-3", "-f", "-k", img}
	case XZ:
		name, args = "xz", []string{"-T2", "-1", "-f", "-k", img}
	case Gzip:
		name, args = "gzip", []string{"-1", "-f", "-k", img}
	case Bzip2:
		name, args = "bzip2", []string{"-1", "-f", "-k", img}
	}
	testkit.NeedCommands(t, name)
	run(t, name, args...)
	return img + map[Format]string{Zstd: ".zst", XZ: ".xz", Gzip: ".gz", Bzip2: ".bz2"}[f]
}

// loopDevice attaches a loop device over a new file of size bytes (filled
// with fill when non-zero) and detaches it when the test ends.
func loopDevice(t testing.TB, dir string, size int64, fill byte) string {
	t.Helper()
	testkit.NeedRoot(t)
	testkit.NeedCommands(t, "losetup")
	back := filepath.Join(dir, "stick-"+strconv.Itoa(rand.Int())+".bin")
	f, err := os.Create(back)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	if fill != 0 {
		b := bytes.Repeat([]byte{fill}, 1<<20)
		for off := int64(0); off < size; off += int64(len(b)) {
			if _, err := f.WriteAt(b[:min(int64(len(b)), size-off)], off); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.Close()
	dev := strings.TrimSpace(run(t, "losetup", "-f", "--show", back))
	t.Cleanup(func() { _ = exec.Command("losetup", "-d", dev).Run() })
	return dev
}

func sha256File(t testing.TB, path string, n int64) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// events collects what a step emits.
type events struct {
	mu sync.Mutex
	ev []step.Event
	on func(step.Event)
}

func (e *events) Emit(ev step.Event) {
	e.mu.Lock()
	e.ev = append(e.ev, ev)
	on := e.on
	e.mu.Unlock()
	if on != nil {
		on(ev)
	}
}

func (e *events) json() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.ev {
		j, _ := json.Marshal(ev)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func hostEnv() Env { return Env{Edge: System{Runner: proc.Host{}}, Runner: proc.Host{}} }

func writeImage(t testing.TB, req Request, sink step.Sink) (*Plan, *Receipt, error) {
	t.Helper()
	ctx := context.Background()
	if sink == nil {
		sink = step.Discard
	}
	p, err := Prepare(ctx, hostEnv(), req, sink)
	if err != nil {
		return nil, nil, err
	}
	rc, err := p.Execute(ctx, sink)
	return p, rc, err
}

func causeOf(err error) string {
	if se, ok := err.(*step.Error); ok {
		return se.Cause
	}
	return ""
}

func regexpFind(s, expr string) string {
	m := regexp.MustCompile(expr).FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	return m[1]
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
