package kit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// These tests prepare kits with the real nix from small local flakes
// (builder = "/bin/sh", no PATH inside, no network input): one with a
// flash script, an installer image and a NixOS-like system, and a
// non-flake input of its own so `nix flake archive` has an input to
// fetch. They share the machine's store, so they never collect garbage
// (the cmd/jetup end-to-end test does, in a private store).

// nixConfig: single-user root store on the build machines, no nixbld
// group, no sandbox, no binary cache.
const nixConfig = testkit.NixConfig

type testFlake struct {
	dir, ref string
}

// newFlake writes a flake whose outputs build in well under a second;
// nonce makes its derivations new to the store. fail makes the flash
// script's builder fail.
func newFlake(t *testing.T, nonce string) *testFlake {
	t.Helper()
	testkit.NeedCommands(t, "nix", "nix-store")
	t.Setenv("NIX_CONFIG", nixConfig)
	dir := t.TempDir()
	dep := filepath.Join(dir, "dep")
	must(t, os.MkdirAll(dep, 0o755))
	must(t, os.WriteFile(filepath.Join(dep, "board.txt"), []byte("board data "+nonce+"\n"), 0o644))
	src := filepath.Join(dir, "flake")
	must(t, os.MkdirAll(src, 0o755))
	f := &testFlake{dir: src, ref: "path:" + src}
	f.write(t, nonce, false)
	return f
}

func (f *testFlake) write(t *testing.T, nonce string, fail bool) {
	t.Helper()
	flashBuild := `/bin/mkdir -p $out/bin; printf '#!/bin/sh\necho flashing from the kit\n' > $out/bin/initrd-flash-test; /bin/chmod +x $out/bin/initrd-flash-test`
	if fail {
		flashBuild = `echo this flash script fails to build on purpose; exit 3`
	}
	flake := fmt.Sprintf(`{
  inputs.dep = { url = "path:%[1]s"; flake = false; };
  outputs = { self, dep }: let
    sys = "x86_64-linux";
    mk = name: script: derivation { inherit name; system = sys; builder = "/bin/sh"; nonce = "%[2]s"; args = [ "-c" script ]; };
  in {
    packages.${sys} = {
      flash-test = mk "flash-test" "%[3]s";
      installer = mk "installer-test" "/bin/mkdir -p $out/iso; /usr/bin/head -c 1048576 /dev/zero > $out/iso/test.iso";
    };
    nixosConfigurations.lab.config.system.build.toplevel = mk "nixos-system-lab" "/bin/mkdir -p $out; /bin/cp ${dep}/board.txt $out/board; printf x86_64-linux > $out/system";
  };
}
`, filepath.Join(filepath.Dir(f.dir), "dep"), nonce, strings.ReplaceAll(flashBuild, `"`, `\"`))
	must(t, os.WriteFile(filepath.Join(f.dir, "flake.nix"), []byte(flake), 0o644))
}

func (f *testFlake) profile() *profiles.Profile {
	return &profiles.Profile{Name: "kit-test", Title: "Kit test board", Family: profiles.Jetson,
		Steps:     []step.ID{step.Flash, step.Write, step.Console, step.Push},
		Flash:     &profiles.Flash{Flake: f.ref, Attribute: "flash-test", Script: "initrd-flash-test"},
		Installer: profiles.Installer{Kind: "iso", Flake: f.ref, Attribute: "installer", Output: "iso/*.iso"}}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// events keeps every event of a prepare.
type events struct {
	mu  sync.Mutex
	all []step.Event
}

func (e *events) Emit(ev step.Event) { e.mu.Lock(); e.all = append(e.all, ev); e.mu.Unlock() }

func (e *events) kinds() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.all {
		raw, _ := json.Marshal(ev)
		var k struct{ Event string }
		_ = json.Unmarshal(raw, &k)
		if k.Event == "" {
			k.Event = fmt.Sprintf("%T", ev)
		}
		if n := len(out); n == 0 || out[n-1] != k.Event {
			out = append(out, k.Event)
		}
	}
	return out
}

func prepare(t *testing.T, o Options) (*Prepared, *events, error) {
	t.Helper()
	ev := &events{}
	if o.Nix == nil {
		o.Nix = &nixrun.Nix{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := Prepare(ctx, o, ev)
	return res, ev, err
}

func causeOf(err error) string {
	var se *step.Error
	if errors.As(err, &se) {
		return se.Cause
	}
	return ""
}

func codeOf(err error) int { return step.ExitCodeOf(err) }

// registered reports whether nix has link as an indirect GC root.
func registered(t *testing.T, link string) bool {
	t.Helper()
	roots, ok := autoRoots()
	if !ok {
		t.Fatalf("cannot read %s", gcAuto)
	}
	return roots[link]
}

func TestPrepareRecordsAndPinsEveryArtifact(t *testing.T) {
	f := newFlake(t, fmt.Sprint(time.Now().UnixNano()))
	state := t.TempDir()
	res, ev, err := prepare(t, Options{State: state, Profile: f.profile(), Jetup: "v-test",
		System: &SystemRef{Ref: f.ref + "#lab", Installable: f.ref + "#nixosConfigurations.lab.config.system.build.toplevel"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ev.kinds(), " "); got != "plan stage estimate stage build stage build stage build artifact stage result" {
		t.Errorf("events: %s", got)
	}
	m := res.Manifest
	if m.Name != "kit-test" || m.Profile != "kit-test" || m.Jetup != "v-test" || len(m.Artifacts) != 3 || m.Size <= 1<<20 {
		t.Fatalf("manifest %+v", m)
	}
	dir := Path(state, "kit-test")
	for _, a := range m.Artifacts {
		link := filepath.Join(dir, string(a.ID))
		if target, _ := os.Readlink(link); target != a.StorePath || !IsStorePath(a.StorePath) {
			t.Errorf("%s: link -> %q, manifest %q", a.ID, target, a.StorePath)
		}
		if !registered(t, link) {
			t.Errorf("%s: %s is not an indirect GC root", a.ID, link)
		}
		if a.Lock == nil || !strings.HasPrefix(a.Lock.NarHash, "sha256-") || !strings.HasPrefix(a.Lock.URL, f.ref+"?") || a.BuiltAt.IsZero() || a.ClosureSize <= 0 {
			t.Errorf("%s: %+v lock %+v", a.ID, a, a.Lock)
		}
	}
	if inst, _ := m.Get(Installer); inst.File != "iso/test.iso" || inst.ClosureSize < 1<<20 {
		t.Errorf("installer %+v", inst)
	}
	if sys, _ := m.Get(System); sys.Ref != f.ref+"#lab" || sys.Attribute != "nixosConfigurations.lab.config.system.build.toplevel" {
		t.Errorf("system %+v", sys)
	}
	// One flake, its source and its input, each pinned.
	if len(m.Flakes) != 1 || len(m.Flakes[0].Sources) != 2 || m.Flakes[0].Sources[1].Input != "dep" {
		t.Fatalf("flakes %+v", m.Flakes)
	}
	for _, s := range m.Flakes[0].Sources {
		if target, _ := os.Readlink(filepath.Join(dir, s.Link)); target != s.StorePath || !registered(t, filepath.Join(dir, s.Link)) {
			t.Errorf("source %+v: link -> %q", s, target)
		}
	}
	// The manifest on disk is the result; the staging links are gone.
	back, err := ReadManifest(dir)
	if err != nil || back.Size != m.Size || len(back.Artifacts) != 3 {
		t.Errorf("read back: %v %+v", err, back)
	}
	if _, err := os.Lstat(filepath.Join(dir, stagingDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging left: %v", err)
	}
	h, err := Inspect(context.Background(), &nixrun.Nix{}, state, "kit-test")
	if err != nil || !h.Whole() {
		t.Fatalf("inspect: %v %+v", err, h)
	}
	if c := Current(context.Background(), &nixrun.Nix{}, &m, f.profile()); c.State != StateCurrent {
		t.Errorf("currency %+v", c)
	}
	if want := "jetup prepare --profile kit-test --system " + f.ref + "#lab"; RefreshCommand(&m) != want {
		t.Errorf("refresh %q", RefreshCommand(&m))
	}
}

// A prepare that fails (a flake that no longer evaluates, a builder that
// fails) leaves the kit before it whole and unchanged; a flake edited
// since the kit was made makes it stale, with the command to refresh it.
func TestFailedRefreshKeepsTheKitAndAMovedFlakeIsStale(t *testing.T) {
	nonce := fmt.Sprint(time.Now().UnixNano())
	f := newFlake(t, nonce)
	state := t.TempDir()
	first, _, err := prepare(t, Options{State: state, Profile: f.profile()})
	if err != nil {
		t.Fatal(err)
	}
	dir := Path(state, "kit-test")
	before, _ := os.ReadFile(filepath.Join(dir, manifestFile))

	bad := f.profile()
	bad.Flash.Attribute = "no-such-attribute"
	_, ev, err := prepare(t, Options{State: state, Profile: bad})
	if causeOf(err) != string(CauseEval) || codeOf(err) != 2 || !strings.Contains(err.Error(), "does not provide attribute") {
		t.Errorf("bad attribute: %v", err)
	}
	for _, k := range ev.kinds() {
		if k == "build" || k == "artifact" {
			t.Errorf("something was built for a flake that does not evaluate: %v", ev.kinds())
		}
	}
	f.write(t, nonce+"-2", true)
	_, _, err = prepare(t, Options{State: state, Profile: f.profile()})
	if causeOf(err) != string(CauseBuildFailed) || codeOf(err) != 1 || !strings.Contains(err.Error(), "failed with exit code 3") {
		t.Errorf("failing builder: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, manifestFile))
	if string(after) != string(before) {
		t.Errorf("the manifest changed:\n%s\n%s", before, after)
	}
	h, err := Inspect(context.Background(), &nixrun.Nix{}, state, "kit-test")
	if err != nil || !h.Whole() {
		t.Fatalf("the old kit is not whole: %v %+v", err, h)
	}
	if _, err := os.Lstat(filepath.Join(dir, stagingDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging left: %v", err)
	}
	c := Current(context.Background(), &nixrun.Nix{}, &first.Manifest, f.profile())
	if c.State != StateStale || len(c.Reasons) != 1 || !strings.Contains(c.Reasons[0], f.ref+" moved from sha256-") || c.Refresh != "jetup prepare --profile kit-test" {
		t.Errorf("currency %+v", c)
	}
	if c := Current(context.Background(), &nixrun.Nix{}, &first.Manifest, bad); c.State != StateStale || !strings.Contains(strings.Join(c.Reasons, "\n"), "the profile now builds the flash script from "+bad.FlashRef()) {
		t.Errorf("profile moved: %+v", c)
	}
	if c := Current(context.Background(), &nixrun.Nix{Offline: true}, &first.Manifest, f.profile()); c.State != StateUnknown {
		t.Errorf("offline: %+v", c)
	}
}

// A path deleted from the store, a link pointed elsewhere or removed by
// hand, a manifest edited by hand: each is reported, and a prepare does
// not overwrite what it cannot read.
func TestBrokenAndHandEditedKits(t *testing.T) {
	f := newFlake(t, fmt.Sprint(time.Now().UnixNano()))
	state := t.TempDir()
	res, _, err := prepare(t, Options{State: state, Profile: f.profile()})
	if err != nil {
		t.Fatal(err)
	}
	dir := Path(state, "kit-test")
	flash, _ := res.Get(Flash)
	inst, _ := res.Get(Installer)
	ctx := context.Background()

	// The flash script deleted from the store (its link kept).
	if out, err := exec.Command("nix-store", "--delete", "--ignore-liveness", flash.StorePath).CombinedOutput(); err != nil {
		t.Fatalf("nix-store --delete: %v\n%s", err, out)
	}
	h, _ := Inspect(ctx, &nixrun.Nix{}, state, "kit-test")
	if h.Whole() || h.State() != "broken" || len(h.Problems) != 1 || h.Problems[0].Why != flash.StorePath+" is no longer in the store" || h.Problems[0].What != "flash script" {
		t.Fatalf("deleted path: %+v", h)
	}
	// Offline, the step is refused up front and the broken kit is named.
	r := &Resolver{State: state, Nix: &nixrun.Nix{Offline: true}, Profile: f.profile()}
	_, err = r.Need(ctx, Flash)
	if codeOf(err) != 2 || causeOf(err) != string(CauseNotInKit) ||
		err.Error() != "the flash script for kit-test is in kit kit-test, but the kit is broken (flash script: "+flash.StorePath+" is no longer in the store)" ||
		step.NextOf(err) != "run `jetup prepare --profile kit-test` while online" {
		t.Errorf("need flash: %v (next %q)", err, step.NextOf(err))
	}

	// The installer's link pointed elsewhere, by hand.
	must(t, os.Remove(filepath.Join(dir, "installer")))
	must(t, os.Symlink(flash.StorePath, filepath.Join(dir, "installer")))
	h, _ = Inspect(ctx, &nixrun.Nix{}, state, "kit-test")
	if len(h.Problems) != 2 || !strings.Contains(h.Problems[0].Why, "its link installer points to "+flash.StorePath+", not to the kit's "+inst.StorePath) {
		t.Errorf("moved link: %+v", h.Problems)
	}
	must(t, os.Remove(filepath.Join(dir, "installer")))
	must(t, os.Symlink(inst.StorePath, filepath.Join(dir, "installer")))
	// A kit copied by hand pins nothing: its links are not GC roots.
	copied := Path(state, "copied")
	if out, err := exec.Command("cp", "-a", dir, copied).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	man, _ := ReadManifest(dir)
	man.Name = "copied"
	must(t, man.write(copied))
	h, _ = Inspect(ctx, &nixrun.Nix{}, state, "copied")
	if len(h.Problems) != 5 || !strings.Contains(h.Problems[1].Why, "its link installer is not registered as a GC root (a kit copied by hand?): a garbage collection may remove "+inst.StorePath) {
		t.Errorf("copied kit: %+v", h.Problems)
	}
	if _, err := Remove(state, "copied"); err != nil {
		t.Fatal(err)
	}

	// The manifest edited by hand: unreadable, listed, and never
	// replaced by a prepare.
	edited := []byte(`{"version": 1, "name": "kit-test", "profile": "kit-test", "artifacts": [{"id": "flash", "link": "../../etc", "store_path": "/etc"}]}`)
	must(t, os.WriteFile(filepath.Join(dir, manifestFile), edited, 0o600))
	h, _ = Inspect(ctx, &nixrun.Nix{}, state, "kit-test")
	if h.State() != "unreadable" || !strings.Contains(h.Unreadable, `the flash script's link is "../../etc", not "flash"`) {
		t.Errorf("edited: %+v", h)
	}
	all, _ := List(ctx, &nixrun.Nix{}, state)
	if len(all) != 1 || all[0].Name != "kit-test" || all[0].Whole() {
		t.Errorf("list %+v", all)
	}
	_, _, err = prepare(t, Options{State: state, Profile: f.profile()})
	if causeOf(err) != string(CauseUnreadable) || codeOf(err) != 2 || !strings.Contains(step.NextOf(err), "pick another --name") {
		t.Errorf("prepare over an edited kit: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, manifestFile)); string(b) != string(edited) {
		t.Errorf("the edited manifest was replaced: %s", b)
	}
	// Removing it unpins what is a kit's and leaves the rest.
	must(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600))
	rm, err := Remove(state, "kit-test")
	if err != nil || len(rm.Unpinned) != 4 || strings.Join(rm.Left, ",") != "notes.txt" {
		t.Errorf("remove: %v %+v", err, rm)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "notes.txt")); err != nil || string(b) != "mine" {
		t.Errorf("a file not the kit's was touched: %v", err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "flash")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("flash link left: %v", err)
	}
}

// Offline, each build is given its artifact from the newest whole kit
// (the profile's first); what no kit holds is refused with the prepare
// that would hold it.
func TestResolverTakesTheNewestWholeKit(t *testing.T) {
	f := newFlake(t, fmt.Sprint(time.Now().UnixNano()))
	state := t.TempDir()
	p := f.profile()
	old, _, err := prepare(t, Options{State: state, Profile: p, Name: "older"})
	if err != nil {
		t.Fatal(err)
	}
	f.write(t, fmt.Sprint(time.Now().UnixNano()), false)
	newer, _, err := prepare(t, Options{State: state, Profile: p, Name: "newer"})
	if err != nil {
		t.Fatal(err)
	}
	oldFlash, _ := old.Get(Flash)
	newFlash, _ := newer.Get(Flash)
	if oldFlash.StorePath == newFlash.StorePath {
		t.Fatal("the two kits hold the same flash script")
	}
	ctx := context.Background()
	r := &Resolver{State: state, Nix: &nixrun.Nix{Offline: true}, Profile: p}
	got, err := r.Prebuilt(ctx, nixrun.Build{Installable: p.FlashRef()})
	if err != nil || got != newFlash.StorePath {
		t.Errorf("flash: %q %v, want the newer kit's %s", got, err, newFlash.StorePath)
	}
	if found, err := r.Need(ctx, Installer); err != nil || found.Kit != "newer" || found.Artifact.File != "iso/test.iso" {
		t.Errorf("installer: %+v %v", found, err)
	}
	_, err = r.Prebuilt(ctx, nixrun.Build{Installable: f.ref + "#nixosConfigurations.lab.config.system.build.toplevel"})
	want := "the system " + f.ref + "#nixosConfigurations.lab.config.system.build.toplevel is not in a kit"
	if codeOf(err) != 2 || err == nil || err.Error() != want ||
		step.NextOf(err) != "run `jetup prepare --profile kit-test --system "+f.ref+"#nixosConfigurations.lab.config.system.build.toplevel` while online" {
		t.Errorf("system: %v (%q)", err, step.NextOf(err))
	}
	// A profile with no kit at all, in the words.
	other := f.profile()
	other.Name = "orin-nano-devkit"
	other.Installer.Attribute = "iso_minimal"
	r = &Resolver{State: state, Nix: &nixrun.Nix{Offline: true}, Profile: other}
	_, err = r.Need(ctx, Installer)
	if err == nil || err.Error() != "the installer for orin-nano-devkit is not in a kit" || step.NextOf(err) != "run `jetup prepare --profile orin-nano-devkit` while online" {
		t.Errorf("no kit: %v (%q)", err, step.NextOf(err))
	}
	// The same flash build is found in another profile's kit.
	if found, err := r.Need(ctx, Flash); err != nil || found.Kit != "newer" {
		t.Errorf("another profile's kit: %+v %v", found, err)
	}
	// A kit prepared during the run (the wizard's picker) is found once
	// the resolver is told (Use for the picked board, Reload).
	r.Use(p)
	f.write(t, fmt.Sprint(time.Now().UnixNano()), false)
	newest, _, err := prepare(t, Options{State: state, Profile: p, Name: "newest"})
	if err != nil {
		t.Fatal(err)
	}
	r.Reload()
	if found, err := r.Need(ctx, Flash); err != nil || found.Kit != "newest" || found.Artifact.StorePath != newest.Artifacts[0].StorePath {
		t.Errorf("after a prepare during the run: %+v %v", found, err)
	}
}

// Bad input, refused before anything is built or any directory made:
// nothing to prepare, a name that would be a path, an image larger than
// the store's free space, a flake that cannot be read.
func TestBadInputIsRefusedBeforeBuilding(t *testing.T) {
	f := newFlake(t, fmt.Sprint(time.Now().UnixNano()))
	state := t.TempDir()
	console := f.profile()
	console.Steps = []step.ID{step.Console}
	_, _, err := prepare(t, Options{State: state, Profile: console})
	if causeOf(err) != string(CauseNothing) || codeOf(err) != 2 || !strings.Contains(err.Error(), "kit-test has no step that builds anything (steps: console)") {
		t.Errorf("nothing: %v", err)
	}
	for _, name := range []string{"../escape", ".hidden", "a/b", "-x"} {
		if _, _, err := prepare(t, Options{State: state, Profile: f.profile(), Name: name}); causeOf(err) != string(CauseBadName) || codeOf(err) != 2 {
			t.Errorf("name %q: %v", name, err)
		}
	}
	img := filepath.Join(t.TempDir(), "installer.img")
	must(t, os.WriteFile(img, make([]byte, 3<<20), 0o644))
	_, ev, err := prepare(t, Options{State: state, Profile: console, Image: img, Free: func() (int64, error) { return 1 << 20, nil }})
	if causeOf(err) != string(CauseDiskTooSmall) || codeOf(err) != 2 ||
		err.Error() != "the kit needs 3.0 MiB in /nix/store and only 1.0 MiB is free: nothing was built" || !strings.Contains(step.NextOf(err), "free at least 2.0 MiB") {
		t.Errorf("too small: %v (%s)", err, step.NextOf(err))
	}
	if k := ev.kinds(); strings.Join(k, " ") != "plan estimate" {
		t.Errorf("events before the refusal: %v", k)
	}
	missing := f.profile()
	missing.Flash.Flake = "path:" + filepath.Join(t.TempDir(), "no-flake-here")
	_, _, err = prepare(t, Options{State: state, Profile: missing})
	if causeOf(err) != string(CauseFlake) || codeOf(err) != 2 || !strings.Contains(err.Error(), "the flake "+missing.Flash.Flake+" of the flash script cannot be read") {
		t.Errorf("missing flake: %v", err)
	}
	if entries, _ := os.ReadDir(Dir(state)); len(entries) != 1 || entries[0].Name() != ".kit-test.lock" {
		t.Errorf("left in the kits directory: %v", entries)
	}
}

// With --image and a built system's path, nothing is built: the image is
// added to the store and both are pinned.
func TestImageAndSystemPathArePinned(t *testing.T) {
	f := newFlake(t, fmt.Sprint(time.Now().UnixNano()))
	state := t.TempDir()
	p := f.profile()
	sysLink := filepath.Join(t.TempDir(), "result")
	sysPath, err := (&nixrun.Nix{}).Build(context.Background(), nixrun.Build{Installable: f.ref + "#nixosConfigurations.lab.config.system.build.toplevel", OutLink: sysLink})
	must(t, err)
	img := filepath.Join(t.TempDir(), "my installer.img")
	must(t, os.WriteFile(img, []byte("an image "+f.dir), 0o644))
	res, _, err := prepare(t, Options{State: state, Profile: p, Image: img, System: &SystemRef{Ref: sysLink}, Name: "field"})
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := res.Get(Installer)
	sys, _ := res.Get(System)
	if !strings.HasSuffix(inst.StorePath, "-my_installer.img") || inst.Ref != img || inst.Installable != "" || inst.File != "" {
		t.Errorf("installer %+v", inst)
	}
	if b, _ := os.ReadFile(inst.StorePath); string(b) != "an image "+f.dir {
		t.Errorf("the image in the store: %q", b)
	}
	if sys.StorePath != sysPath || sys.Ref != sysLink || sys.Installable != "" {
		t.Errorf("system %+v", sys)
	}
	if want := "jetup prepare --profile kit-test --name field --image '" + img + "' --system " + sysLink; RefreshCommand(&res.Manifest) != want {
		t.Errorf("refresh %q", RefreshCommand(&res.Manifest))
	}
	// Offline, --closure's own path needs no kit; the profile's flash
	// script comes from this one.
	r := &Resolver{State: state, Nix: &nixrun.Nix{Offline: true}, Profile: p}
	if found, err := r.Need(context.Background(), Flash); err != nil || found.Kit != "field" {
		t.Errorf("%+v %v", found, err)
	}
}

// The routing tables of this host and of a network namespace with only a
// veth to a board (ip netns exec ... cat /proc/net/route, ipv6_route).
func TestNoRouteReadsTheRoutingTables(t *testing.T) {
	online4 := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
		"eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
	veth4 := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"jpb\t0037A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
	online6 := "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n" +
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
	unreachable6 := "00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo\n" +
		"00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
	if !defaultRoute4([]byte(online4)) || defaultRoute4([]byte(veth4)) || defaultRoute4(nil) {
		t.Error("IPv4 table misread")
	}
	if !defaultRoute6([]byte(online6)) || defaultRoute6([]byte(unreachable6)) || defaultRoute6(nil) {
		t.Error("IPv6 table misread")
	}
}
