package bundle_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jetup/jetup/bundle"
	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

var bundleEdge = bundle.Edge{Nix: &nixrun.Nix{}, Runner: proc.Host{}}

// key is a Nix signing key pair made with nix key generate-secret.
type key struct{ secret, public, publicKey string }

func newKey(t testing.TB, name string) key {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("nix", "--extra-experimental-features", "nix-command", "key", "generate-secret", "--key-name", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	k := key{secret: filepath.Join(dir, name+".sec"), public: filepath.Join(dir, name+".pub")}
	if err := os.WriteFile(k.secret, out, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nix", "--extra-experimental-features", "nix-command", "key", "convert-secret-to-public")
	cmd.Stdin = bytes.NewReader(out)
	pub, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	k.publicKey = strings.TrimSpace(string(pub))
	if err := os.WriteFile(k.public, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return k
}

// bundle writes a bundle of sys for the board from the mirror's manifest.
func (h *home) bundle(t testing.TB, b *testboard.Board, o bundle.Options) *bundle.Result {
	t.Helper()
	res, err := h.tryBundle(b, o)
	if err != nil {
		t.Fatalf("bundle: %v\n%s", err, h.log)
	}
	return res
}

func (h *home) tryBundle(b *testboard.Board, o bundle.Options) (*bundle.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if o.For == "" && o.Base == "" {
		o.For = b.HostKeyFingerprint()
	}
	if o.Output == "" {
		o.Output = filepath.Join(h.state, "out", "bundle.sh")
		os.MkdirAll(filepath.Dir(o.Output), 0o755)
	}
	o.KeyDir, o.Log = filepath.Join(h.state, "keys"), h.log
	return bundle.Write(ctx, bundleEdge, h.mirror, o, &recorder{})
}

// run is one run of the bundle's script on the board.
type run struct {
	out  string
	code int
}

// onBoard copies the bundle's file (or its parts) into the board and runs
// `sh FILE args...` there, in the board's namespaces: nothing but the file
// reaches the board.
func onBoard(t testing.TB, b *testboard.Board, files []string, args ...string) run {
	t.Helper()
	dir := filepath.Join(b.Dir, "carried")
	os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inside := testboard.Inside + "/carried/" + filepath.Base(files[0])
	cmd := b.Command("sh", append([]string{inside}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return run{out: out.String(), code: code}
}

// profileTarget is what the board's system profile points to.
func profileTarget(t testing.TB, b *testboard.Board) string {
	t.Helper()
	link, err := os.Readlink(filepath.Join(b.NixDir, "var/nix/profiles/system"))
	if err != nil {
		return ""
	}
	p, err := os.Readlink(filepath.Join(b.NixDir, "var/nix/profiles", link))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// storeClean runs nix-store --verify --check-contents on the board's store.
func storeClean(t testing.TB, b *testboard.Board) {
	t.Helper()
	out, err := exec.Command("nix-store", "--store", "local?root="+b.Dir, "--verify", "--check-contents").CombinedOutput()
	if err != nil || strings.Contains(string(out), "error") || strings.Contains(string(out), "modified") {
		t.Errorf("nix-store --verify --check-contents: %v\n%s", err, out)
	}
}

// receiptOf reads the board's receipt for a sequence.
func receiptOf(t *testing.T, b *testboard.Board, seq int64) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(b.NixDir, "var/jetup/receipts", "receipt-"+itoa(seq)+".json"))
	if err != nil {
		t.Fatalf("no receipt %d: %v", seq, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("receipt %d: %v\n%s", seq, err, raw)
	}
	return m
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

const healthCmd = "grep -qx good /nix/var/nix/profiles/system/health"

var (
	e2eOnce sync.Once
	e2eSys  map[string]string
)

// e2eSystems builds the systems of the apply tests once per test binary:
// base (libfoo 1.0), next (libfoo 1.1), third (1.2), unhealthy (1.1 with a
// health file that says bad).
func e2eSystems(t *testing.T) map[string]string {
	t.Helper()
	systems(t)
	e2eOnce.Do(func() {
		e2eSys = map[string]string{
			"base":      testSystem{Name: "e2e", Version: "1.0", Health: "good", Shared: 5}.build(t),
			"next":      testSystem{Name: "e2e", Version: "1.1", Health: "good", Shared: 5}.build(t),
			"third":     testSystem{Name: "e2e", Version: "1.2", Health: "good", Shared: 5}.build(t),
			"unhealthy": testSystem{Name: "e2e", Version: "1.1", Health: "bad", Shared: 5}.build(t),
		}
	})
	if e2eSys == nil {
		t.Fatal("building the apply tests' systems failed earlier")
	}
	return e2eSys
}

// fixture is a board that runs the base system, pushed by jetup, with its
// manifest recorded at home, and a signing key whose public half is in the
// board's directory (trust: --trust-key it).
type fixture struct {
	b     *testboard.Board
	h     *home
	k     key
	sys   map[string]string
	trust []string
}

func newFixture(t *testing.T, bo ...testboard.Options) *fixture {
	t.Helper()
	sys := e2eSystems(t)
	o := testboard.Options{}
	if len(bo) > 0 {
		o = bo[0]
	}
	f := &fixture{b: testboard.New(t, o), k: newKey(t, "jetup-test-a"), sys: sys}
	f.h = newHome(t, f.b)
	f.h.push(t, f.b, sys["base"])
	f.h.collect(t, f.b)
	if err := os.WriteFile(filepath.Join(f.b.Dir, "key.pub"), []byte(f.k.publicKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.trust = []string{"--trust-key", testboard.Inside + "/key.pub"}
	return f
}

func (f *fixture) bundle(t testing.TB, o bundle.Options) *bundle.Result {
	t.Helper()
	if o.SignKey == "" {
		o.SignKey = f.k.secret
	}
	if o.Closure == "" {
		o.Closure = f.sys["next"]
	}
	return f.h.bundle(t, f.b, o)
}

// apply runs the bundle on the board with the fixture's trusted key.
func (f *fixture) apply(t *testing.T, res *bundle.Result, args ...string) run {
	t.Helper()
	files := res.Parts
	if len(files) == 0 {
		files = []string{res.File}
	}
	return onBoard(t, f.b, files, append(args, f.trust...)...)
}

// unchanged checks that the board still runs base and its store lacks next.
func (f *fixture) unchanged(t *testing.T, r run) {
	t.Helper()
	if r.code != 2 {
		t.Errorf("exit %d, want 2 (refused)\n%s", r.code, r.out)
	}
	if profileTarget(t, f.b) != f.sys["base"] || f.b.Valid("", f.sys["next"]) {
		t.Errorf("the board changed: profile %s, next valid %v", profileTarget(t, f.b), f.b.Valid("", f.sys["next"]))
	}
	if got := f.b.Read("var/jetup-activations.log"); got != "switch\n" {
		t.Errorf("activations %q", got)
	}
}

// A base system pushed, one package changed, a bundle made against the
// manifest the push recorded, applied with nothing but the file.
func TestBundleOfOnePackageChangeSwitchesTheBoard(t *testing.T) {
	systems(t)
	k := newKey(t, "jetup-test-a")
	base := testSystem{Name: "e2e", Version: "1.0", Health: "good", Shared: 5}.build(t)
	next := testSystem{Name: "e2e", Version: "1.1", Health: "good", Shared: 5}.build(t)
	b := testboard.New(t, testboard.Options{})
	h := newHome(t, b)
	h.push(t, b, base)
	h.collect(t, b)

	res := h.bundle(t, b, bundle.Options{Closure: next, SignKey: k.secret, NoDeltas: true})
	if res.Paths != 3 || res.Sequence != 1 || res.Target != next || res.ClosurePaths != 8 || res.Bytes >= res.ClosureBytes {
		t.Errorf("result %+v", res)
	}
	if !strings.Contains(res.Text(), "3 paths, ") || !strings.Contains(res.Text(), "instead of") {
		t.Errorf("text %q", res.Text())
	}
	// The NARs travel compressed (binaries: well under three quarters).
	if res.Bytes > res.NarBytes*3/4 {
		t.Errorf("bundle %d bytes for %d of NAR: not compressed", res.Bytes, res.NarBytes)
	}

	if err := os.WriteFile(filepath.Join(b.Dir, "key.pub"), []byte(k.publicKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	trust := []string{"--trust-key", testboard.Inside + "/key.pub"}
	r := onBoard(t, b, []string{res.File}, append([]string{"--check"}, trust...)...)
	if r.code != 0 || !strings.Contains(r.out, "checked bundle 1") {
		t.Fatalf("--check: %d\n%s", r.code, r.out)
	}
	if b.Valid("", next) || profileTarget(t, b) != base {
		t.Fatal("--check changed the board")
	}
	r = onBoard(t, b, []string{res.File}, append([]string{"--switch", "--health", healthCmd}, trust...)...)
	if r.code != 0 || !strings.Contains(r.out, "is confirmed") {
		t.Fatalf("--switch: %d\n%s", r.code, r.out)
	}
	if profileTarget(t, b) != next || b.Read("var/jetup-activations.log") != "switch\nswitch\n" {
		t.Errorf("profile %s, activations %q", profileTarget(t, b), b.Read("var/jetup-activations.log"))
	}
	rc := receiptOf(t, b, 1)
	if rc["outcome"] != "switched" || rc["system"] != next || rc["board"] != b.HostKeyFingerprint() || len(rc["added"].([]any)) != 3 {
		t.Errorf("receipt %v", rc)
	}
	storeClean(t, b)
	t.Logf("%s", r.out)
}

func TestBundleRefusedBeforeTheStoreChanges(t *testing.T) {
	f := newFixture(t)
	res := f.bundle(t, bundle.Options{NoDeltas: true})
	raw, err := os.ReadFile(res.File)
	if err != nil {
		t.Fatal(err)
	}
	variant := func(name string, b []byte) string {
		p := filepath.Join(t.TempDir(), filepath.Base(res.File))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, file, cause, says string
		args                    []string
	}{
		{"tampered", variant("tampered", flip(raw, len(raw)-600)), "damaged", "differ from its signed header", nil},
		{"truncated", variant("truncated", raw[:len(raw)-100000]), "truncated", "is truncated", nil},
		{"header tampered", variant("header", flipHeader(t, raw)), "tampered", "does not match its signature", nil},
		{"script lies", variant("script", flipText(raw, "\nsequence=1\n", "\nsequence=9\n")), "tampered", "its signed header", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := onBoard(t, f.b, []string{c.file}, append([]string{"--switch"}, f.trust...)...)
			f.unchanged(t, r)
			if !strings.Contains(r.out, c.says) {
				t.Errorf("output lacks %q:\n%s", c.says, r.out)
			}
			if rc := receiptOf(t, f.b, 1); rc["outcome"] != "refused" || rc["cause"] != c.cause {
				t.Errorf("receipt %v", rc)
			}
		})
	}
	t.Run("unsigned", func(t *testing.T) {
		r := onBoard(t, f.b, []string{res.File}, "--switch")
		f.unchanged(t, r)
		if !strings.Contains(r.out, "not signed by a key this board trusts") || receiptOf(t, f.b, 1)["cause"] != "unsigned" {
			t.Errorf("%s", r.out)
		}
	})
	t.Run("wrongly signed", func(t *testing.T) {
		other := newKey(t, "jetup-test-other")
		wrong := f.h.bundle(t, f.b, bundle.Options{Closure: f.sys["next"], SignKey: other.secret, NoDeltas: true})
		r := onBoard(t, f.b, []string{wrong.File}, append([]string{"--switch"}, f.trust...)...)
		f.unchanged(t, r)
		if !strings.Contains(r.out, "not signed by a key this board trusts") {
			t.Errorf("%s", r.out)
		}
	})
	t.Run("missing base path", func(t *testing.T) {
		// A manifest that says the board has libfoo 1.1 (another board's,
		// or an older state of this one): the bundle leaves it out.
		_, man, err := f.h.mirror.Manifest(f.b.HostKeyFingerprint())
		if err != nil {
			t.Fatal(err)
		}
		libfoo := ""
		for p := range pathInfo(t, f.sys["next"]) {
			if strings.Contains(p, "-libfoo-1.1") {
				libfoo = p
			}
		}
		man.Paths = append(man.Paths, bundle.Path{Path: libfoo, NarHash: man.Paths[0].NarHash, NarSize: 1})
		man.Sort()
		file := filepath.Join(t.TempDir(), "manifest.json")
		if err := os.WriteFile(file, man.Marshal(), 0o644); err != nil {
			t.Fatal(err)
		}
		res := f.bundle(t, bundle.Options{Base: file, NoDeltas: true})
		if res.Paths != 2 {
			t.Fatalf("bundle against the forged manifest: %+v", res)
		}
		// Refused from the signed header, before the rest is read: the
		// same bundle with its body damaged is refused for its base too.
		raw, err := os.ReadFile(res.File)
		if err != nil {
			t.Fatal(err)
		}
		damaged := *res
		damaged.File = variant("forged-damaged", flip(raw, len(raw)-600))
		for _, r := range []*bundle.Result{res, &damaged} {
			out := f.apply(t, r, "--switch")
			f.unchanged(t, out)
			if !strings.Contains(out.out, "paths it builds on are missing") || receiptOf(t, f.b, res.Sequence)["cause"] != "missing-base" {
				t.Errorf("%s", out.out)
			}
		}
	})
	t.Run("another board", func(t *testing.T) {
		other := testboard.New(t, testboard.Options{})
		if err := os.WriteFile(filepath.Join(other.Dir, "key.pub"), []byte(f.k.publicKey+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Refused from the header alone: a damaged body is not read.
		for _, file := range []string{res.File, variant("other-damaged", flip(raw, len(raw)-600))} {
			r := onBoard(t, other, []string{file}, append([]string{"--check"}, f.trust...)...)
			if r.code != 2 || !strings.Contains(r.out, "the bundle is for board "+f.b.HostKeyFingerprint()) {
				t.Errorf("%d %s", r.code, r.out)
			}
		}
	})
	storeClean(t, f.b)
}

func flip(b []byte, at int) []byte {
	out := append([]byte(nil), b...)
	out[at] ^= 0x20
	return out
}

// flipHeader flips a byte in the middle of the signed header's (zstd) NAR.
func flipHeader(t *testing.T, b []byte) []byte {
	t.Helper()
	v, err := bundle.ReadVars(b[:16<<10])
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(b[v.ScriptSize : v.ScriptSize+v.HeaderSize]))
	for {
		hd, err := tr.Next()
		if err != nil {
			t.Fatalf("no NAR in the header: %v", err)
		}
		if strings.HasSuffix(hd.Name, ".nar.zst") {
			nar, _ := io.ReadAll(tr)
			at := bytes.Index(b, nar)
			if at < 0 || len(nar) < 64 {
				t.Fatalf("the header's NAR (%d bytes) not found", len(nar))
			}
			return flip(b, at+len(nar)/2)
		}
	}
}

func flipText(b []byte, from, to string) []byte {
	if !bytes.Contains(b, []byte(from)) {
		panic("flipText: " + from + " not found")
	}
	return bytes.Replace(b, []byte(from), []byte(to), 1)
}

func TestBundleWhoseHealthCheckFailsIsRolledBack(t *testing.T) {
	f := newFixture(t)
	res := f.bundle(t, bundle.Options{Closure: f.sys["unhealthy"], NoDeltas: true})
	r := f.apply(t, res, "--switch", "--health", healthCmd, "--confirm-timeout", "3s")
	if r.code != 1 || !strings.Contains(r.out, "rolled back to generation 1") {
		t.Fatalf("exit %d\n%s", r.code, r.out)
	}
	if profileTarget(t, f.b) != f.sys["base"] {
		t.Errorf("profile %s after the rollback", profileTarget(t, f.b))
	}
	if got := f.b.Read("var/jetup-activations.log"); got != "switch\nswitch\nswitch\n" {
		t.Errorf("activations %q: want the push, the new system, the old one again", got)
	}
	if _, err := os.Lstat(filepath.Join(f.b.NixDir, "var/nix/profiles/system-2-link")); err == nil {
		t.Error("the failed generation is still there")
	}
	if rc := receiptOf(t, f.b, 1); rc["outcome"] != "rolled-back" || rc["cause"] != "unhealthy" || rc["system"] != f.sys["base"] {
		t.Errorf("receipt %v", rc)
	}
	// A rolled-back bundle was not applied: the same one may run again
	// (once the board is fixed); here its check still passes.
	if r := f.apply(t, res, "--check"); r.code != 0 {
		t.Errorf("check after the rollback: %d %s", r.code, r.out)
	}
	storeClean(t, f.b)
}

func TestBundleReplayedOrOlderIsRefused(t *testing.T) {
	f := newFixture(t)
	first := f.bundle(t, bundle.Options{NoDeltas: true})
	firstFile := filepath.Join(t.TempDir(), "first.sh")
	if err := os.Rename(first.File, firstFile); err != nil {
		t.Fatal(err)
	}
	first.File = firstFile
	second := f.bundle(t, bundle.Options{Closure: f.sys["third"], NoDeltas: true})
	if first.Sequence != 1 || second.Sequence != 2 {
		t.Fatalf("sequences %d %d", first.Sequence, second.Sequence)
	}
	if r := f.apply(t, second, "--switch"); r.code != 0 {
		t.Fatalf("second: %d %s", r.code, r.out)
	}
	r := f.apply(t, second, "--switch")
	if r.code != 2 || !strings.Contains(r.out, "bundle 2 was applied already") {
		t.Errorf("the same bundle again: %d %s", r.code, r.out)
	}
	r = f.apply(t, first, "--switch")
	if r.code != 2 || !strings.Contains(r.out, "not newer than the last bundle this board applied (2)") {
		t.Errorf("an older bundle: %d %s", r.code, r.out)
	}
	if profileTarget(t, f.b) != f.sys["third"] || f.b.Valid("", f.sys["next"]) {
		t.Error("a refused bundle changed the board")
	}
}

func TestBundleBootSetsTheNextBootsSystemAndItsManifestIsTheSame(t *testing.T) {
	f := newFixture(t)
	res := f.bundle(t, bundle.Options{NoDeltas: true})
	r := f.apply(t, res, "--boot")
	if r.code != 0 || !strings.Contains(r.out, "next boot's system") || !strings.Contains(r.out, "not guarded at boot") {
		t.Fatalf("--boot: %d\n%s", r.code, r.out)
	}
	if profileTarget(t, f.b) != f.sys["next"] || f.b.Read("var/jetup-activations.log") != "switch\nboot\n" {
		t.Errorf("profile %s, activations %q", profileTarget(t, f.b), f.b.Read("var/jetup-activations.log"))
	}
	if rc := receiptOf(t, f.b, 1); rc["outcome"] != "booted" {
		t.Errorf("receipt %v", rc)
	}
	// sh FILE --manifest prints what jetup manifest reads over SSH.
	r = onBoard(t, f.b, []string{res.File}, "--manifest")
	onFile, err := bundle.ParseManifest([]byte(r.out))
	if r.code != 0 || err != nil {
		t.Fatalf("--manifest: %v %d\n%s", err, r.code, r.out)
	}
	overSSH := f.h.collect(t, f.b).Manifest
	if onFile.Current != f.sys["next"] || onFile.Sequence != 1 || len(onFile.Generations) != 2 || onFile.Fingerprint != overSSH.Fingerprint {
		t.Errorf("manifest from the file %+v", onFile)
	}
	a, _ := json.Marshal(onFile.Paths)
	b, _ := json.Marshal(overSSH.Paths)
	if !bytes.Equal(a, b) || len(onFile.Paths) != 11 {
		t.Errorf("paths differ: %d from the file, %d over SSH", len(onFile.Paths), len(overSSH.Paths))
	}
}

func TestBundleSplitNamesTheDamagedPartAndJoinedPartsApply(t *testing.T) {
	f := newFixture(t)
	res := f.bundle(t, bundle.Options{NoDeltas: true, Split: 256 << 10})
	if len(res.Parts) < 3 || res.File != "" || res.SumsFile == "" {
		t.Fatalf("parts %v, file %q, sums %q", res.Parts, res.File, res.SumsFile)
	}
	var total int64
	for _, p := range res.Parts {
		st, err := os.Stat(p)
		if err != nil || st.Size() > 256<<10 {
			t.Fatalf("part %s: %v", p, err)
		}
		total += st.Size()
	}
	sums, _ := os.ReadFile(res.SumsFile)
	check := exec.Command("sha256sum", "-c", filepath.Base(res.SumsFile))
	check.Dir = filepath.Dir(res.SumsFile)
	if out, err := check.CombinedOutput(); err != nil || total != res.Bytes {
		t.Fatalf("sha256sum -c: %v %s\n%s", err, out, sums)
	}
	// Part 1 damaged on the way: named, nothing changed.
	damaged := filepath.Join(t.TempDir(), filepath.Base(res.Parts[1]))
	raw, _ := os.ReadFile(res.Parts[1])
	if err := os.WriteFile(damaged, flip(raw, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	files := append([]string{res.Parts[0], damaged}, res.Parts[2:]...)
	r := onBoard(t, f.b, files, append([]string{"--switch"}, f.trust...)...)
	f.unchanged(t, r)
	if !strings.Contains(r.out, "part 1 of the bundle is damaged") || !strings.Contains(r.out, "send bundle.sh.part001 again") {
		t.Errorf("%s", r.out)
	}
	// A missing last part is a truncated bundle.
	r = onBoard(t, f.b, res.Parts[:len(res.Parts)-1], append([]string{"--check"}, f.trust...)...)
	if r.code != 2 || !strings.Contains(r.out, "truncated") {
		t.Errorf("without the last part: %d %s", r.code, r.out)
	}
	// cat FILE.part* > FILE joins them.
	joined := filepath.Join(t.TempDir(), "bundle.sh")
	var all []byte
	for _, p := range res.Parts {
		b, _ := os.ReadFile(p)
		all = append(all, b...)
	}
	if err := os.WriteFile(joined, all, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := onBoard(t, f.b, []string{joined}, append([]string{"--check"}, f.trust...)...); r.code != 0 {
		t.Errorf("joined: %d %s", r.code, r.out)
	}
	// The parts as they came: sh FILE.part000 beside the others.
	if r := f.apply(t, res, "--switch"); r.code != 0 || profileTarget(t, f.b) != f.sys["next"] {
		t.Errorf("parts: %d %s", r.code, r.out)
	}
}

// The receipt of a switch with --keep 1 comes home; the mirror's manifest
// is then the board's real state (the same paths as over SSH), and the next
// bundle carries nothing the first one sent.
func TestReceiptBroughtHomeMakesTheNextBundleSendNothingAgain(t *testing.T) {
	f := newFixture(t)
	first := f.bundle(t, bundle.Options{NoDeltas: true})
	r := f.apply(t, first, "--switch", "--keep", "1", "--receipt", testboard.Inside+"/receipt.json")
	if r.code != 0 || !strings.Contains(r.out, "kept 1 generations") {
		t.Fatalf("--switch --keep 1: %d\n%s", r.code, r.out)
	}
	raw, err := os.ReadFile(filepath.Join(f.b.Dir, "receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := f.h.mirror.Receive(raw)
	if err != nil {
		t.Fatalf("receive: %v\n%s", err, raw)
	}
	// Generation 1 (base) went, and with it base's libfoo, app and toplevel.
	if len(rec.Receipt.Removed) != 3 || rec.Receipt.FreedBytes <= 0 || !rec.Manifest || rec.Paths != 8 {
		t.Errorf("received %+v\nreceipt %s", rec, raw)
	}
	for _, p := range rec.Receipt.Removed {
		if f.b.Valid("", p) {
			t.Errorf("%s is listed removed but still on the board", p)
		}
	}
	_, mirrored, err := f.h.mirror.Manifest(f.b.HostKeyFingerprint())
	if err != nil {
		t.Fatal(err)
	}
	real := f.h.collect(t, f.b).Manifest
	if a, b := pathSet(mirrored), pathSet(real); a != b {
		t.Errorf("the mirror's manifest from the receipt:\n%s\nthe board's over SSH:\n%s", a, b)
	}
	if mirrored.Current != f.sys["next"] || mirrored.Sequence != 1 || len(mirrored.Generations) != 1 {
		t.Errorf("mirrored %+v", mirrored)
	}
	// Back to the receipt's state (collect recorded the SSH one).
	if _, err := f.h.mirror.Record(mirrored.Marshal(), bundle.Seen{From: "receipt"}); err != nil {
		t.Fatal(err)
	}
	sentFirst := map[string]bool{}
	for _, p := range headerOf(t, first.File).Paths {
		sentFirst[p] = true
	}
	second := f.bundle(t, bundle.Options{Closure: f.sys["third"], NoDeltas: true})
	h2 := headerOf(t, second.File)
	if second.Sequence != 2 || len(h2.Paths) != 3 {
		t.Errorf("second bundle %+v, paths %v", second, h2.Paths)
	}
	for _, p := range h2.Paths {
		if sentFirst[p] || f.b.Valid("", p) {
			t.Errorf("the second bundle sends %s again (sent by the first %v, on the board %v)", p, sentFirst[p], f.b.Valid("", p))
		}
	}
	if r := f.apply(t, second, "--switch"); r.code != 0 {
		t.Errorf("second: %d %s", r.code, r.out)
	}
	// A receipt is hostile input like any file.
	for _, bad := range []string{`{"format":"jetup-receipt/1"}`, strings.Replace(string(raw), `"outcome": "switched"`, `"outcome": "rm -rf"`, 1),
		strings.Replace(string(raw), f.sys["next"], "/etc/passwd", 1)} {
		if _, err := f.h.mirror.Receive([]byte(bad)); err == nil {
			t.Errorf("accepted %.200s", bad)
		}
	}
}

func pathSet(m *bundle.Manifest) string {
	var out []string
	for _, p := range m.Paths {
		out = append(out, p.Path+" "+p.NarHash.String())
	}
	return strings.Join(out, "\n")
}

// headerOf reads a bundle's signed header (at home, with nix store cat).
func headerOf(t *testing.T, file string) *bundle.Header {
	t.Helper()
	head := make([]byte, 16<<10)
	fd, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.ReadFull(fd, head)
	fd.Close()
	v, err := bundle.ReadVars(head[:n])
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("sh", "-c", `tail -c +$(($1 + 1)) "$2" | head -c "$3" | tar -xf - -C "$4"`, "sh", itoa(v.ScriptSize), file, itoa(v.HeaderSize), dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	out, err := exec.Command("nix", "--extra-experimental-features", "nix-command", "store", "cat", "--store", "file://"+dir+"/jetup-bundle/header", v.HeaderPath).Output()
	if err != nil {
		t.Fatal(err)
	}
	h, err := bundle.ParseHeader(string(out))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// The apply killed with SIGKILL at ten points, then run again: it
// completes, the store verifies, and the profile was only ever the old
// system or the new one.
func TestBundleApplyKilledAtTenPointsCompletesWhenRunAgain(t *testing.T) {
	e2eSystems(t)
	points := []string{"header", "parts", "unpacked", "pending", "imported", "profile", "activated", "health", "commit", "committed"}
	for _, point := range points {
		t.Run(point, func(t *testing.T) {
			f := newFixture(t)
			res := f.bundle(t, bundle.Options{NoDeltas: true})
			args := append([]string{"--switch", "--health", healthCmd}, f.trust...)
			killedAt(t, f.b, res.File, point, args...)
			if p := profileTarget(t, f.b); p != f.sys["base"] && p != f.sys["next"] {
				t.Fatalf("after the kill the profile is %s", p)
			}
			r := f.apply(t, res, args[:3]...)
			if r.code != 0 && !(point == "committed" && r.code == 2 && strings.Contains(r.out, "applied already")) {
				t.Fatalf("run again after a kill at %s: %d\n%s", point, r.code, r.out)
			}
			if p := profileTarget(t, f.b); p != f.sys["next"] {
				t.Errorf("profile %s after the second run", p)
			}
			if seq := strings.TrimSpace(f.b.Read("var/jetup/sequence")); seq != "1" {
				t.Errorf("sequence %q", seq)
			}
			if _, err := os.Stat(filepath.Join(f.b.NixDir, "var/jetup/pending")); err == nil {
				t.Error("the pending file is still there")
			}
			storeClean(t, f.b)
		})
	}
}

// killedAt runs the bundle on the board until it holds at point, then
// kills it (and everything it started) with SIGKILL.
func killedAt(t *testing.T, b *testboard.Board, file, point string, args ...string) {
	t.Helper()
	dir := filepath.Join(b.Dir, "carried")
	os.MkdirAll(dir, 0o755)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(file)), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := b.Command("sh", append([]string{testboard.Inside + "/carried/" + filepath.Base(file)}, args...)...)
	cmd.Env = append(cmd.Env, "JETUP_APPLY_HOLD="+point)
	stdin, err := cmd.StdinPipe() // never written: the script waits on it at the point
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	held, ended := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var seen strings.Builder
	go func() {
		defer close(ended)
		var once sync.Once
		_ = proc.ReadLines(out, proc.MaxLine, func(l []byte, _ bool) {
			mu.Lock()
			seen.Write(append(l, '\n'))
			mu.Unlock()
			if string(l) == "jetup:held="+point {
				once.Do(func() { close(held) })
			}
		})
	}()
	select {
	case <-held:
	case <-ended:
		cmd.Wait()
		t.Fatalf("the apply ended before it reached %s:\n%s", point, seen.String())
	case <-time.After(2 * time.Minute):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("waited 2 minutes for the apply to reach %s:\n%s", point, seen.String())
	}
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

func TestBundleDeltasAreRebuiltOnTheBoardAndCheckedFirst(t *testing.T) {
	f := newFixture(t)
	whole := f.bundle(t, bundle.Options{NoDeltas: true, Output: filepath.Join(t.TempDir(), "whole.sh")})
	res := f.bundle(t, bundle.Options{})
	// libfoo 1.1 against 1.0, app-1 against app-1 (its reference changed);
	// the toplevel is too small to be worth a delta.
	if res.Deltas != 2 || res.Bytes*2 > whole.Bytes {
		t.Errorf("with deltas %d bytes (%d deltas), without %d", res.Bytes, res.Deltas, whole.Bytes)
	}
	// The NARs the deltas are made from were written by jetup, each with
	// the hash the store records (else nix would have written it).
	if strings.Contains(f.h.log.String(), "is not the store's") {
		t.Errorf("a NAR jetup wrote differs from the store's:\n%s", f.h.log)
	}
	h := headerOf(t, res.File)
	for _, d := range h.Deltas {
		if !f.b.Valid("", d.Base) || bundle.NameOf(d.Base) == bundle.NameOf(d.Path) && !strings.Contains(d.Path, "app-1") {
			t.Errorf("delta %+v", d)
		}
	}
	r := f.apply(t, res, "--switch", "--health", healthCmd)
	if r.code != 0 || !strings.Contains(r.out, "rebuilt 2 paths from binary deltas") {
		t.Fatalf("%d\n%s", r.code, r.out)
	}
	if profileTarget(t, f.b) != f.sys["next"] {
		t.Errorf("profile %s", profileTarget(t, f.b))
	}
	storeClean(t, f.b)
}

func TestBundleDeltaAgainstADifferentOldPathIsRefused(t *testing.T) {
	f := newFixture(t)
	res := f.bundle(t, bundle.Options{})
	if res.Deltas == 0 {
		t.Fatal("no deltas")
	}
	// The board's copy of libfoo 1.0 is not what home has (a disk error,
	// a hand edit): the patch cannot rebuild the signed NAR.
	var old string
	for _, d := range headerOf(t, res.File).Deltas {
		if strings.Contains(d.Base, "-libfoo-1.0") {
			old = d.Base
		}
	}
	lib := filepath.Join(f.b.Dir, old, "lib", "libfoo.so")
	os.Chmod(filepath.Dir(lib), 0o755)
	os.Chmod(lib, 0o644)
	raw, err := os.ReadFile(lib)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lib, flip(raw, len(raw)/2), 0o644); err != nil {
		t.Fatal(err)
	}
	r := f.apply(t, res, "--switch")
	f.unchanged(t, r)
	if c := receiptOf(t, f.b, 1)["cause"]; c != "delta-mismatch" && c != "damaged" {
		t.Errorf("cause %v\n%s", c, r.out)
	}
}

func TestBoardWithoutADecoderGetsWholeNARs(t *testing.T) {
	sys := e2eSystems(t)
	b := testboard.New(t, testboard.Options{Hide: []string{"/usr/bin/zstd"}})
	h := newHome(t, b)
	h.push(t, b, sys["base"])
	if m := h.collect(t, b).Manifest; m.Decoder != "" {
		t.Fatalf("decoder %q on a board without zstd", m.Decoder)
	}
	k := newKey(t, "jetup-test-nodecoder")
	res := h.bundle(t, b, bundle.Options{Closure: sys["next"], SignKey: k.secret})
	if res.Deltas != 0 || res.Paths != 3 {
		t.Errorf("%+v", res)
	}
	if err := os.WriteFile(filepath.Join(b.Dir, "key.pub"), []byte(k.publicKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := onBoard(t, b, []string{res.File}, "--switch", "--trust-key", testboard.Inside+"/key.pub"); r.code != 0 {
		t.Errorf("%d %s", r.code, r.out)
	}
}

func TestBundleRefusedWhenTheBoardLacksRoom(t *testing.T) {
	f := newFixture(t, testboard.Options{NixMiB: 100})
	// The board's /nix fills up after the push.
	if out, err := f.b.Command("dd", "if=/dev/zero", "of=/nix/var/filler", "bs=1M", "count=70").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	res := f.bundle(t, bundle.Options{NoDeltas: true})
	r := f.apply(t, res, "--switch")
	// This board's /nix is a tmpfs of its own: look at it from inside.
	inside := func(cmd string) string {
		out, _ := f.b.Command("sh", "-c", cmd).Output()
		return strings.TrimSpace(string(out))
	}
	if r.code != 2 || !strings.Contains(r.out, "MiB free; this bundle needs") {
		t.Errorf("%d %s", r.code, r.out)
	}
	if inside("readlink -f /nix/var/nix/profiles/system") != f.sys["base"] || inside("nix-store --check-validity "+f.sys["next"]+" && echo yes") != "" {
		t.Error("the board changed")
	}
	if rc := inside("cat /nix/var/jetup/receipts/receipt-1.json"); !strings.Contains(rc, `"cause": "no-space"`) {
		t.Errorf("receipt %s", rc)
	}
}

// A board with Nix but not NixOS: the bundle sets a profile of its own and
// runs --activate; the manifest covers that profile; a failed health check
// goes back to the profile's previous generation.
func TestBundleForAProfileThatIsNotNixOS(t *testing.T) {
	systems(t)
	pkg := func(version string) string {
		return nixBuild(t, fmt.Sprintf(`derivation { name = "jetup-app-%[1]s"; system = builtins.currentSystem; builder = "/bin/sh";
  args = ["-c" "/bin/mkdir -p $out/bin; echo %[1]s > $out/version; /bin/cp /usr/bin/tar $out/bin/app; printf '#!/bin/sh\\necho activate %[1]s >> /nix/var/jetup-activations.log\\n' > $out/bin/activate; /bin/chmod +x $out/bin/activate"]; }`, version))
	}
	v1, v2 := pkg("1"), pkg("2")
	const profile = "/nix/var/nix/profiles/jetup-app"
	b := testboard.New(t, testboard.Options{})
	if out, err := exec.Command("nix", "--extra-experimental-features", "nix-command", "copy", "--no-check-sigs", "--to", "local?root="+b.Dir, v1).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if out, err := b.Command("nix-env", "-p", profile, "--set", v1).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	h := newHome(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := bundle.Collect(ctx, sshDialer, h.mirror, bundle.CollectOptions{Target: target(b), Trust: h.trust, Profile: profile, Log: h.log}, &recorder{})
	if err != nil {
		t.Fatalf("collect: %v\n%s", err, h.log)
	}
	if c.Manifest.Profile != profile || c.Manifest.Current != v1 || c.Manifest.Running != "" || len(c.Manifest.Paths) != 1 {
		t.Fatalf("manifest %+v", c.Manifest)
	}
	k := newKey(t, "jetup-test-profile")
	if err := os.WriteFile(filepath.Join(b.Dir, "key.pub"), []byte(k.publicKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.tryBundle(b, bundle.Options{Closure: v2, SignKey: k.secret}); causeOf(err) != "wrong-profile" {
		t.Errorf("a bundle for the system against a profile's manifest: %v", err)
	}
	res := h.bundle(t, b, bundle.Options{Closure: v2, SignKey: k.secret, ProfilePath: profile})
	trust := []string{"--trust-key", testboard.Inside + "/key.pub"}
	act := []string{"--activate", "$JETUP_PROFILE/bin/activate"}
	r := onBoard(t, b, []string{res.File}, append(append([]string{"--switch", "--health", "false", "--confirm-timeout", "2s"}, act...), trust...)...)
	if r.code != 1 || !strings.Contains(r.out, "rolled back to generation 1") {
		t.Fatalf("unhealthy: %d\n%s", r.code, r.out)
	}
	link := func() string {
		p, _ := os.Readlink(filepath.Join(b.NixDir, "var/nix/profiles/jetup-app-1-link"))
		return p
	}
	if got := b.Read("var/jetup-activations.log"); got != "activate 2\nactivate 1\n" || link() != v1 {
		t.Errorf("activations %q, generation 1 %s", got, link())
	}
	r = onBoard(t, b, []string{res.File}, append(append([]string{"--switch", "--health", "grep -qx 2 $JETUP_PROFILE/version 2>/dev/null || grep -qx 2 " + profile + "/version"}, act...), trust...)...)
	if r.code != 0 {
		t.Fatalf("switch: %d\n%s", r.code, r.out)
	}
	now, _ := os.Readlink(filepath.Join(b.NixDir, "var/nix/profiles/jetup-app"))
	if target, _ := os.Readlink(filepath.Join(b.NixDir, "var/nix/profiles", now)); target != v2 {
		t.Errorf("the profile is %s (%s)", now, target)
	}
	if rc := receiptOf(t, b, 1); rc["outcome"] != "switched" || rc["profile"] != profile || rc["system"] != v2 {
		t.Errorf("receipt %v", rc)
	}
	storeClean(t, b)
}

func causeOf(err error) string {
	var se *step.Error
	if errors.As(err, &se) {
		return se.Cause
	}
	return ""
}

// A new system whose kernel differs from the booted one's says, at --check
// and after --switch, that a reboot is needed, and promises no guard at
// boot; the receipt names it. One with the booted kernel says nothing.
func TestBundleWhoseKernelChangedSaysARebootIsNeeded(t *testing.T) {
	f := newFixture(t)
	// The board booted the base system (the fixture's push activated it).
	if out, err := f.b.Command("ln", "-sfn", f.sys["base"], "/run/booted-system").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	same := f.bundle(t, bundle.Options{NoDeltas: true})
	r := f.apply(t, same, "--switch")
	if r.code != 0 || strings.Contains(r.out, "reboot") {
		t.Errorf("the booted kernel (none, as the base's): exit %d\n%s", r.code, r.out)
	}
	if rc := receiptOf(t, f.b, same.Sequence); rc["reboot_needed"] == nil || len(rc["reboot_needed"].([]any)) != 0 {
		t.Errorf("receipt's reboot_needed %v, want []", rc["reboot_needed"])
	}

	kernel := testSystem{Name: "e2e", Version: "1.2", Health: "good", Shared: 5, Kernel: "6.1.99"}.build(t)
	res := f.bundle(t, bundle.Options{Closure: kernel, NoDeltas: true})
	r = f.apply(t, res, "--check")
	if r.code != 0 || !strings.Contains(r.out, "a reboot is needed to run its kernel (not the booted system's)") {
		t.Errorf("--check: exit %d\n%s", r.code, r.out)
	}
	r = f.apply(t, res, "--switch")
	if r.code != 0 || !strings.Contains(r.out, "a reboot is needed to run the new system's kernel") ||
		!strings.Contains(r.out, "nothing guards the reboot") || strings.Contains(r.out, "guarded at boot") {
		t.Errorf("--switch: exit %d\n%s", r.code, r.out)
	}
	raw, err := os.ReadFile(filepath.Join(f.b.NixDir, "var/jetup/receipts", "receipt-"+itoa(res.Sequence)+".json"))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := bundle.ParseReceipt(raw)
	if err != nil || rc.Outcome != "switched" || strings.Join(rc.RebootNeeded, ",") != "kernel" {
		t.Fatalf("receipt %+v %v\n%s", rc, err, raw)
	}
	got, err := f.h.mirror.Receive(raw)
	if err != nil || !strings.Contains(got.Text(), "needs a reboot to run the new kernel") {
		t.Errorf("at home: %v %v", got, err)
	}
}

// A board without a decoder gets one shipped once (--decoder: a store path
// with bin/zstd and no references): that bundle already carries deltas,
// decoded with the zstd read from the bundle itself before anything is
// imported; the board keeps it (a GC root), its receipt and manifest name
// it, and the next bundle, made against the receipt, has deltas and does
// not ship it again.
func TestBundleShipsTheDecoderOnce(t *testing.T) {
	sys := e2eSystems(t)
	b := testboard.New(t, testboard.Options{Hide: []string{"/usr/bin/zstd"}})
	h := newHome(t, b)
	h.push(t, b, sys["base"])
	if m := h.collect(t, b).Manifest; m.Decoder != "" {
		t.Fatalf("decoder %q on a board without zstd", m.Decoder)
	}
	// This machine's zstd stands for a static one built for the board
	// (the board shares this machine's libraries, not its /usr/bin/zstd).
	dec := nixBuild(t, `derivation { name = "zstd-static-test"; system = builtins.currentSystem; builder = "/bin/sh";
  args = ["-c" "/bin/mkdir -p $out/bin; /bin/cp /usr/bin/zstd $out/bin/zstd"]; }`)
	k := newKey(t, "jetup-test-decoder")
	if err := os.WriteFile(filepath.Join(b.Dir, "key.pub"), []byte(k.publicKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	trust := []string{"--trust-key", testboard.Inside + "/key.pub"}

	if _, err := h.tryBundle(b, bundle.Options{Closure: sys["next"], SignKey: k.secret, Decoder: sys["base"]}); err == nil || !strings.Contains(err.Error(), "has no bin/zstd") {
		t.Errorf("a decoder without bin/zstd: %v", err)
	}
	res := h.bundle(t, b, bundle.Options{Closure: sys["next"], SignKey: k.secret, Decoder: dec + "/bin/zstd"})
	if res.Deltas != 2 || res.Paths != 4 || res.Decoder != dec {
		t.Fatalf("with the decoder: %+v", res)
	}
	r := onBoard(t, b, []string{res.File}, append([]string{"--switch", "--receipt", testboard.Inside + "/receipt.json"}, trust...)...)
	if r.code != 0 || !strings.Contains(r.out, "rebuilt 2 paths from binary deltas") {
		t.Fatalf("--switch: %d\n%s", r.code, r.out)
	}
	if profileTarget(t, b) != sys["next"] || !b.Valid("", dec) {
		t.Errorf("profile %s, decoder valid %v", profileTarget(t, b), b.Valid("", dec))
	}
	if root, _ := os.Readlink(filepath.Join(b.NixDir, "var/nix/gcroots/jetup-decoder")); root != dec {
		t.Errorf("the decoder's GC root points to %q", root)
	}
	storeClean(t, b)

	raw, err := os.ReadFile(filepath.Join(b.Dir, "receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := h.mirror.Receive(raw)
	if err != nil || !strings.HasPrefix(rec.Receipt.Decoder, "zstd 1.") {
		t.Fatalf("receipt %+v: %v", rec, err)
	}
	if _, m, _ := h.mirror.Manifest(b.HostKeyFingerprint()); m.Decoder != rec.Receipt.Decoder || !m.Has(dec) {
		t.Errorf("the mirror's manifest: decoder %q, has it %v", m.Decoder, m.Has(dec))
	}
	next := h.bundle(t, b, bundle.Options{Closure: sys["third"], SignKey: k.secret})
	if next.Deltas != 2 || next.Paths != 3 || next.Decoder != "" {
		t.Fatalf("the next bundle: %+v", next)
	}
	if r := onBoard(t, b, []string{next.File}, append([]string{"--switch"}, trust...)...); r.code != 0 || !strings.Contains(r.out, "rebuilt 2 paths") {
		t.Errorf("the next bundle, with the kept decoder: %d\n%s", r.code, r.out)
	}
	if m := h.collect(t, b).Manifest; !strings.HasPrefix(m.Decoder, "zstd 1.") {
		t.Errorf("the board's manifest names no decoder: %q", m.Decoder)
	}
}

// noZstd is this machine without a zstd command: nix compresses the NARs
// itself and no deltas are made.
type noZstd struct{ proc.Host }

func (noZstd) LookPath(name string) (string, error) {
	if name == "zstd" {
		return "", exec.ErrNotFound
	}
	return exec.LookPath(name)
}

func TestBundleWithoutZstdAtHomeHasNixCompressTheNARs(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := bundle.Options{Closure: f.sys["next"], SignKey: f.k.secret, For: f.b.HostKeyFingerprint(),
		Output: filepath.Join(t.TempDir(), "bundle.sh"), KeyDir: filepath.Join(f.h.state, "keys"), Log: f.h.log}
	res, err := bundle.Write(ctx, bundle.Edge{Nix: &nixrun.Nix{}, Runner: noZstd{}}, f.h.mirror, o, &recorder{})
	if err != nil {
		t.Fatalf("%v\n%s", err, f.h.log)
	}
	if res.Deltas != 0 || res.Paths != 3 || res.Bytes > res.NarBytes*3/4 {
		t.Errorf("without zstd: %+v", res)
	}
	if r := f.apply(t, res, "--switch"); r.code != 0 || profileTarget(t, f.b) != f.sys["next"] {
		t.Errorf("%d\n%s", r.code, r.out)
	}
}
