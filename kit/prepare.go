package kit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// Options for Prepare.
type Options struct {
	// State is jetup's state directory (the caller checked it).
	State string
	// Name is the kit's name; "" is the profile's name.
	Name    string
	Profile *profiles.Profile
	// System is --system, nil when not given.
	System *SystemRef
	// Image is --image: an installer image file to pin instead of
	// building the profile's installer.
	Image string
	// Nix is the run's Nix runner.
	Nix *nixrun.Nix
	// Log receives nix's raw stderr (the step's log).
	Log io.Writer
	// Jetup is the version preparing it, for the manifest.
	Jetup string
	// Free is the free space of the store's file system; nil reads it
	// (statfs of /nix/store).
	Free func() (int64, error)
}

// Prepare builds or fetches everything the profile's steps use, fetches
// the flakes' sources and inputs, pins every result as a GC root in the
// kit's directory and writes its manifest. Nothing is built before every
// flake evaluated and the store's file system was found large enough for
// what nix said it would fetch. A kit of the same name stays whole until
// the new one is complete: the new results are pinned in a staging
// directory first, and a prepare that fails leaves the old kit as it was.
func Prepare(ctx context.Context, o Options, sink step.Sink) (*Prepared, error) {
	if sink == nil {
		sink = step.Discard
	}
	if o.Profile == nil {
		return nil, step.Refuse("no-profile", "pass --profile NAME; `jetup profiles` lists them", "a kit is prepared for a board profile")
	}
	if o.Name == "" {
		o.Name = o.Profile.Name
	}
	if err := CheckName(o.Name); err != nil {
		return nil, err
	}
	items, err := plan(o.Profile, o.System, o.Image)
	if err != nil {
		return nil, err
	}
	if _, err := o.Nix.LookPath(); err != nil {
		return nil, step.Refuse(string(CauseNoNix), "install Nix (`jetup doctor` says how)", "nix is not installed, so nothing can be prepared")
	}
	// A prepare builds what it pins: offline, the run's Nix would hand
	// each build to the kits' look-up (Prebuilt), which refuses whatever
	// no kit holds yet. Every other mode (Offline, User, Observe) stays.
	nx := nixrun.Nix{}
	if o.Nix != nil {
		nx = *o.Nix
	}
	nx.Prebuilt = nil
	o.Nix = &nx
	p := &preparer{o: o, sink: sink, items: items, dir: Path(o.State, o.Name), raw: o.Log}
	if p.raw == nil {
		p.raw = io.Discard
	}
	unlock, err := lockKit(o.State, o.Name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	old, err := p.checkExisting()
	if err != nil {
		return nil, err
	}
	planned := make([]Planned, len(items))
	for i, it := range items {
		planned[i] = Planned{ID: it.id, Ref: it.ref}
	}
	sink.Emit(Plan{Event: "plan", At: time.Now(), Kit: o.Name, Profile: o.Profile.Name, Artifacts: planned, Replaces: old != nil})

	res, err := p.run(ctx)
	if err != nil {
		p.abandon(old != nil)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	sink.Emit(*res)
	return res, nil
}

type preparer struct {
	o     Options
	sink  step.Sink
	items []item
	dir   string
	raw   io.Writer
	locks map[string]*Lock // by flake as asked
	flake []Flake
}

func (p *preparer) stage(phase string, id ID, format string, args ...any) {
	p.sink.Emit(Stage{Event: "stage", At: time.Now(), Phase: phase, Artifact: id, Message: fmt.Sprintf(format, args...)})
}

// checkExisting reads the kit already there, if any. A directory jetup
// cannot read as a kit (kit.json edited by hand, files that are not a
// kit's) is refused, never overwritten.
func (p *preparer) checkExisting() (*Manifest, error) {
	entries, err := os.ReadDir(p.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, step.Refuse(string(CauseState), "check the state directory's permissions", "cannot read %s: %v", p.dir, err)
	}
	if err := safe.CheckDir(p.dir); err != nil {
		return nil, step.Refuse(string(CauseState), "remove it or make it yours (chmod go-w)", "will not keep a kit in %s: %v", p.dir, err)
	}
	m, err := ReadManifest(p.dir)
	if err != nil && !(isMissing(err) && onlyStaging(entries)) {
		if isMissing(err) {
			err = fmt.Errorf("%s holds files but no %s", p.dir, manifestFile)
		}
		return nil, step.Refuse(string(CauseUnreadable),
			fmt.Sprintf("move %s away (or `jetup kits rm %s` removes what is a kit's in it), or pick another --name", p.dir, p.o.Name),
			"kit %s cannot be read, so it is not replaced: %v", p.o.Name, err)
	}
	if m != nil {
		if foreign := foreignEntries(p.dir); len(foreign) > 0 {
			return nil, step.Refuse(string(CauseUnreadable),
				fmt.Sprintf("move them out of %s, or pick another --name", p.dir),
				"kit %s holds files that are not a kit's (%s), so it is not replaced", p.o.Name, strings.Join(foreign, ", "))
		}
	}
	// A staging directory left by a prepare that was killed: its links
	// are ours, and go.
	_ = os.RemoveAll(filepath.Join(p.dir, stagingDir))
	return m, nil
}

func onlyStaging(entries []os.DirEntry) bool {
	for _, e := range entries {
		if e.Name() != stagingDir {
			return false
		}
	}
	return true
}

func (p *preparer) run(ctx context.Context) (*Prepared, error) {
	if err := p.lockFlakes(ctx); err != nil {
		return nil, err
	}
	if err := p.estimate(ctx); err != nil {
		return nil, err
	}
	if err := safe.Dir(p.dir); err != nil {
		return nil, step.Refuse(string(CauseState), "pass --state-dir with a directory only you can write to", "cannot make %s: %v", p.dir, err)
	}
	staging := filepath.Join(p.dir, stagingDir)
	if err := os.MkdirAll(filepath.Join(staging, srcDir), 0o700); err != nil {
		return nil, step.Errorf(string(CauseState), "check the state directory's permissions and free space", "cannot make %s: %v", staging, err)
	}
	if err := p.archive(ctx, staging); err != nil {
		return nil, err
	}
	arts := make([]Artifact, 0, len(p.items))
	for _, it := range p.items {
		a, err := p.build(ctx, it, staging)
		if err != nil {
			return nil, err
		}
		arts = append(arts, a)
	}
	m := &Manifest{Version: Version, Name: p.o.Name, Profile: p.o.Profile.Name, Created: time.Now().UTC(),
		Jetup: p.o.Jetup, Artifacts: arts, Flakes: p.flake}
	if err := p.measure(ctx, m); err != nil {
		return nil, err
	}
	if err := p.commit(ctx, m); err != nil {
		return nil, err
	}
	return &Prepared{Event: "result", Dir: p.dir, Manifest: *m}, nil
}

// lockFlakes asks each flake's lock once (nix flake metadata): the
// locked revision goes in the manifest, and the builds use the locked
// ref, so what is built is what is recorded.
func (p *preparer) lockFlakes(ctx context.Context) error {
	p.locks = map[string]*Lock{}
	for i, it := range p.items {
		if it.flake == "" {
			continue
		}
		l, ok := p.locks[it.flake]
		if !ok {
			p.stage(PhaseLock, it.id, "nix flake metadata %s", it.flake)
			var err error
			l, err = metadata(ctx, p.o.Nix, it.flake, p.raw)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return step.Refuse(string(CauseFlake), "check the flake reference (nix flake metadata "+it.flake+" must work) and the network",
					"the flake %s of the %s cannot be read: %s", it.flake, it.id.Title(), nixrun.ReasonOf(err))
			}
			p.locks[it.flake] = l
			p.stage(PhaseLock, it.id, "%s is at %s", it.flake, l.Short())
		}
		p.items[i].build = l.URL + "#" + it.attr
	}
	return nil
}

// estimate evaluates every installable at once (nix build --dry-run):
// one that does not evaluate is refused before anything is built, and
// what nix will fetch (plus --image) must fit in the store's free space.
func (p *preparer) estimate(ctx context.Context) error {
	var inst []string
	var its []item
	var files int64
	for _, it := range p.items {
		switch {
		case it.build != "":
			inst, its = append(inst, it.build), append(its, it)
		case it.file != "":
			if fi, err := os.Stat(it.file); err == nil {
				files += fi.Size()
			}
		}
	}
	e := Estimate{Event: "estimate", At: time.Now(), Files: files}
	if len(inst) > 0 {
		var names []string
		for _, it := range its {
			names = append(names, it.id.Title())
		}
		p.stage(PhaseEstimate, "", "evaluating the %s (nix build --dry-run)", strings.Join(names, ", the "))
		_, fetch, builds, err := dryRun(ctx, p.o.Nix, inst, p.raw)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			bad := its[0]
			if len(its) > 1 { // which one: each alone (nix caches the evaluation)
				for _, it := range its {
					if _, _, _, e := dryRun(ctx, p.o.Nix, []string{it.build}, p.raw); e != nil {
						bad, err = it, e
						break
					}
				}
			}
			return step.Refuse(string(CauseEval), "fix the flake or the profile's attribute (nix build --dry-run '"+bad.ref+"' shows the whole error)",
				"the %s (%s) does not evaluate: %s", bad.id.Title(), bad.ref, nixrun.ReasonOf(err))
		}
		e.Fetch, e.Builds = fetch, builds
	}
	free := p.o.Free
	if free == nil {
		free = storeFree
	}
	f, err := free()
	if err != nil {
		p.sink.Emit(step.Warning{At: time.Now(), Warning: "cannot tell the free space in " + StoreDir + ": " + err.Error()})
		return nil
	}
	e.Free = f
	p.sink.Emit(e)
	if e.Needed() > e.Free {
		return step.Refuse(string(CauseDiskTooSmall),
			fmt.Sprintf("free at least %s in %s's file system (nix-collect-garbage removes what nothing pins; `jetup kits` lists the kits that pin paths), then prepare again",
				Bytes(e.Needed()-e.Free), StoreDir),
			"the kit needs %s in %s and only %s is free: nothing was built", Bytes(e.Needed()), StoreDir, Bytes(e.Free))
	}
	return nil
}

// storeFree is the space left to users on the store's file system.
func storeFree() (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(StoreDir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// archive fetches each flake's sources and inputs (nix flake archive)
// and pins them at once in the staging directory.
func (p *preparer) archive(ctx context.Context, staging string) error {
	done := map[string]bool{}
	for _, it := range p.items {
		if it.flake == "" || done[it.flake] {
			continue
		}
		done[it.flake] = true
		l := p.locks[it.flake]
		p.stage(PhaseArchive, it.id, "nix flake archive %s", it.flake)
		srcs, err := archive(ctx, p.o.Nix, l.URL, p.raw)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return step.Errorf(string(CauseFlake), "check the network and the flake's inputs, then prepare again",
				"the sources of %s could not be fetched: %s", it.flake, nixrun.ReasonOf(err))
		}
		paths := make([]string, len(srcs))
		for i, s := range srcs {
			paths[i] = s.StorePath
		}
		link := filepath.Join(staging, srcDir, fmt.Sprintf("f%d", len(p.flake)))
		if err := pin(ctx, p.o.Nix, link, paths...); err != nil {
			return p.pinError(ctx, err)
		}
		p.flake = append(p.flake, Flake{Flake: it.flake, Lock: l, Sources: srcs})
		p.stage(PhaseArchive, it.id, "%s: %d source(s) with its inputs", it.flake, len(srcs))
	}
	return nil
}

func (p *preparer) pinError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return step.Errorf(string(CauseState), "check the state directory (its file system must take symbolic links)", "cannot pin in %s: %s", p.dir, nixrun.ReasonOf(err))
}

// build makes one artifact and pins it in the staging directory.
func (p *preparer) build(ctx context.Context, it item, staging string) (Artifact, error) {
	link := filepath.Join(staging, string(it.id))
	a := Artifact{ID: it.id, Ref: it.ref, Flake: it.flake, Link: string(it.id)}
	switch {
	case it.file != "":
		p.stage(PhaseBuild, it.id, "adding %s to the store", it.file)
		path, err := addFile(ctx, p.o.Nix, it.file, storeName(it.file), p.raw)
		if err != nil {
			return a, p.buildError(ctx, it, err)
		}
		a.StorePath = path
		if err := pin(ctx, p.o.Nix, link, path); err != nil {
			return a, p.pinError(ctx, err)
		}
	case it.path != "":
		p.stage(PhasePin, it.id, "pinning %s", it.path)
		if err := pin(ctx, p.o.Nix, link, it.path); err != nil {
			if ctx.Err() != nil {
				return a, ctx.Err()
			}
			return a, step.Refuse(string(CauseBadSystem), "build the system again (its store path is gone), or pass --system FLAKE#NAME",
				"%s cannot be pinned: %s", it.path, nixrun.ReasonOf(err))
		}
		a.StorePath = it.path
	default:
		a.Installable, a.Attribute, a.Lock = it.installable, it.attr, p.locks[it.flake]
		p.stage(PhaseBuild, it.id, "building the %s: %s at %s", it.id.Title(), it.ref, p.locks[it.flake].Short())
		progress := func(pr nixrun.Progress) {
			p.sink.Emit(BuildProgress{Event: "build", At: time.Now(), Artifact: it.id, Progress: pr})
		}
		path, err := p.o.Nix.Build(ctx, nixrun.Build{Installable: it.build, OutLink: link,
			Log: nixrun.Watch{Raw: p.raw, Progress: progress}})
		if err != nil {
			return a, p.buildError(ctx, it, err)
		}
		a.StorePath = path
		if it.output != "" {
			f, err := outputFile(path, it.output)
			if err != nil {
				return a, err
			}
			a.File = f
		}
	}
	a.BuiltAt = time.Now().UTC()
	return a, nil
}

func (p *preparer) buildError(ctx context.Context, it item, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var se *step.Error
	if errors.As(err, &se) { // a PreBuild refusal says what to do itself
		return err
	}
	reason := nixrun.ReasonOf(err)
	if strings.Contains(reason, "No space left on device") {
		return step.Errorf(string(CauseDiskTooSmall), "free space in "+StoreDir+"'s file system (nix-collect-garbage), then prepare again: the kit before this one is as it was",
			"the store's file system filled up while the %s was built: %s", it.id.Title(), reason)
	}
	return step.Errorf(string(CauseBuildFailed), "read nix's error in the log; fix the flake or the profile, then prepare again (the kit before this one is as it was)",
		"the %s (%s) did not build: %s", it.id.Title(), it.ref, reason)
}

// storeName is a store path name for an image file: its base name with
// only the characters a store path name may hold.
func storeName(file string) string {
	b := []byte(filepath.Base(file))
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("+-._?=", c) >= 0
		if !ok {
			b[i] = '_'
		}
	}
	s := strings.TrimLeft(string(b), ".")
	if s == "" {
		s = "installer-image"
	}
	return s[:min(len(s), 200)]
}

// outputFile finds the installer image in the build result with the
// profile's glob, as the write step does: exactly one match.
func outputFile(out, glob string) (string, error) {
	matches, _ := filepath.Glob(filepath.Join(out, glob))
	if len(matches) != 1 {
		return "", step.Errorf("installer-output", "fix the profile's installer output glob",
			"%s holds %d files matching %q, want exactly one", out, len(matches), glob)
	}
	rel, err := filepath.Rel(out, matches[0])
	if err != nil || !localFile(rel) {
		return "", step.Errorf("installer-output", "fix the profile's installer output glob", "%s is not inside %s", matches[0], out)
	}
	return rel, nil
}

// measure fills each artifact's size and the kit's: one nix path-info of
// every root's closure; paths shared between closures count once.
func (p *preparer) measure(ctx context.Context, m *Manifest) error {
	var paths []string
	for _, r := range m.roots() {
		paths = append(paths, r.path)
	}
	infos, err := pathInfos(ctx, p.o.Nix, paths, true)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return step.Errorf(string(CauseBuildFailed), "prepare again", "cannot measure the kit: %s", nixrun.ReasonOf(err))
	}
	byPath := map[string]pathInfo{}
	for _, i := range infos {
		if !i.valid() {
			continue
		}
		if _, dup := byPath[i.Path]; !dup {
			m.Size += i.NarSize
		}
		byPath[i.Path] = i
	}
	for i := range m.Artifacts {
		info := byPath[m.Artifacts[i].StorePath]
		m.Artifacts[i].NarSize, m.Artifacts[i].ClosureSize = info.NarSize, info.ClosureSize
		p.sink.Emit(Pinned{Event: "artifact", At: time.Now(), Artifact: m.Artifacts[i].ID,
			StorePath: m.Artifacts[i].StorePath, ClosureSize: info.ClosureSize})
	}
	return nil
}

// commit moves the kit to its final links: each made by nix (so each is
// registered as a root where it now lives), then the manifest, then what
// the old kit had and the new one has not, then the staging links.
func (p *preparer) commit(ctx context.Context, m *Manifest) error {
	p.stage(PhasePin, "", "pinning %d artifact(s) and %d source(s) in %s", len(m.Artifacts), len(m.roots())-len(m.Artifacts), p.dir)
	for _, a := range m.Artifacts {
		if err := pin(ctx, p.o.Nix, filepath.Join(p.dir, a.Link), a.StorePath); err != nil {
			return p.pinError(ctx, err)
		}
	}
	if err := p.pinSources(ctx, m); err != nil {
		return err
	}
	if err := m.write(p.dir); err != nil {
		return step.Errorf(string(CauseState), "check the state directory's free space and permissions, then prepare again", "cannot write the manifest: %v", err)
	}
	removeStale(p.dir, m)
	_ = os.RemoveAll(filepath.Join(p.dir, stagingDir))
	return nil
}

// pinSources pins every source with one nix call: nix names the links
// src/source, src/source-1, ... in the order given, and each link is read
// back to name its source in the manifest.
func (p *preparer) pinSources(ctx context.Context, m *Manifest) error {
	var paths []string
	for _, f := range m.Flakes {
		for _, s := range f.Sources {
			paths = append(paths, s.StorePath)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	dir := filepath.Join(p.dir, srcDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return p.pinError(ctx, err)
	}
	if err := pin(ctx, p.o.Nix, filepath.Join(dir, "source"), paths...); err != nil {
		return p.pinError(ctx, err)
	}
	linkOf := map[string]string{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && (e.Name() == "source" || strings.HasPrefix(e.Name(), "source-")) {
			if _, taken := linkOf[target]; !taken || e.Name() < linkOf[target] {
				linkOf[target] = e.Name()
			}
		}
	}
	for i := range m.Flakes {
		for j, s := range m.Flakes[i].Sources {
			name, ok := linkOf[s.StorePath]
			if !ok {
				return p.pinError(ctx, fmt.Errorf("nix made no link to %s in %s", s.StorePath, dir))
			}
			m.Flakes[i].Sources[j].Link = srcDir + "/" + name
		}
	}
	return nil
}

// removeStale removes the links the new manifest does not name: what the
// old kit pinned and the new one does not (a source it no longer has).
func removeStale(dir string, m *Manifest) {
	keep := map[string]bool{}
	for _, r := range m.roots() {
		keep[r.link] = true
	}
	for _, id := range ids {
		if !keep[string(id)] {
			removeLink(filepath.Join(dir, string(id)))
		}
	}
	entries, _ := os.ReadDir(filepath.Join(dir, srcDir))
	for _, e := range entries {
		if !keep[srcDir+"/"+e.Name()] {
			removeLink(filepath.Join(dir, srcDir, e.Name()))
		}
	}
}

// removeLink removes p only when it is a symbolic link into the store:
// never a file someone put there.
func removeLink(p string) {
	if target, err := os.Readlink(p); err == nil && strings.HasPrefix(target, StoreDir+"/") {
		_ = os.Remove(p)
	}
}

// abandon undoes a prepare that failed: its staging links go (their
// paths stay in the store until a garbage collection), and a kit
// directory that held nothing before goes too. An old kit is untouched.
func (p *preparer) abandon(hadKit bool) {
	_ = os.RemoveAll(filepath.Join(p.dir, stagingDir))
	if !hadKit {
		_ = os.Remove(p.dir) // only when empty
	}
}

// foreignEntries are the entries of a kit's directory that are not the
// kit's: neither its manifest, nor a link of an artifact or source, nor
// its staging directory.
func foreignEntries(dir string) []string {
	var out []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		n := e.Name()
		switch {
		case n == manifestFile || n == stagingDir || n == srcDir && e.IsDir() || strings.HasPrefix(n, ".kit.json-"):
			continue
		case ID(n).known() && e.Type()&os.ModeSymlink != 0:
			continue
		}
		out = append(out, n)
	}
	srcs, _ := os.ReadDir(filepath.Join(dir, srcDir))
	for _, e := range srcs {
		if e.Type()&os.ModeSymlink == 0 {
			out = append(out, srcDir+"/"+e.Name())
		}
	}
	sort.Strings(out)
	return out
}
