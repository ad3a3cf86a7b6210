package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// Options make one bundle.
type Options struct {
	// Closure is a built system (or, with ProfilePath, any store path);
	// Flake is REF#NAME, built first.
	Closure, Flake string
	// For names the board in the mirror (host or fingerprint); Base is a
	// manifest file instead.
	For, Base string
	// Output is the bundle file (with Split: FILE.part000... and
	// FILE.sha256).
	Output string
	// SignKey is a Nix secret key file; "" uses (and makes once) jetup's
	// own key in KeyDir.
	SignKey string
	KeyDir  string
	// Split cuts the bundle into parts of this many bytes (0: one file).
	Split int64
	// ProfilePath targets that profile instead of NixOS's system.
	ProfilePath string
	// NoDeltas sends whole NARs even to a board that can decode deltas.
	NoDeltas bool
	// Decoder is a store path (or a link to one) with bin/zstd built for
	// the board, static, with no references: shipped once in the bundle,
	// so a board without a decoder gets deltas from this bundle on.
	Decoder string
	// Level is the zstd level of the NARs (0: DefaultLevel).
	Level int
	Log   io.Writer
}

// DefaultLevel is the NARs' zstd level: a thin link pays for every byte,
// and levels above this cost much more time for little.
const DefaultLevel = 12

// MinSplit is the smallest --split: the script and header must fit in
// the first part with room to spare.
const MinSplit = 64 << 10

// Edge is what writing a bundle runs: this machine's nix (path-info, copy,
// store sign, key generate-secret, store dump-path) and zstd for deltas.
type Edge struct {
	Nix    *nixrun.Nix
	Runner proc.Runner
}

// Result is a bundle written: `jetup bundle`'s result line.
type Result struct {
	Event        string   `json:"event"` // "result"
	File         string   `json:"file"`
	Parts        []string `json:"parts,omitempty"`
	SumsFile     string   `json:"sha256_file,omitempty"`
	Board        string   `json:"board"`
	Hostname     string   `json:"board_hostname,omitempty"`
	Sequence     int64    `json:"sequence"`
	Target       string   `json:"target"`
	Profile      string   `json:"profile"`
	BaseManifest string   `json:"base_manifest"`
	Paths        int      `json:"paths"`
	Deltas       int      `json:"deltas"`
	Decoder      string   `json:"decoder,omitempty"` // the decoder shipped in it
	ClosurePaths int      `json:"closure_paths"`
	Bytes        int64    `json:"bytes"`         // the bundle
	NarBytes     int64    `json:"nar_bytes"`     // the NARs of the paths sent
	ClosureBytes int64    `json:"closure_bytes"` // the NARs of the whole closure
	PublicKey    string   `json:"public_key"`
	Seconds      float64  `json:"seconds"`
}

// Text says what it saves and what to run on the board.
func (r Result) Text() string {
	file := r.File
	if len(r.Parts) > 0 {
		file = fmt.Sprintf("%s (%d parts, sums in %s)", r.Parts[0], len(r.Parts), r.SumsFile)
	}
	deltas := ""
	if r.Deltas > 0 {
		deltas = fmt.Sprintf(" (%d as binary deltas)", r.Deltas)
	}
	return fmt.Sprintf("bundle %d for %s (%s): %d paths%s, %s instead of %s (the full closure)\nwrote %s in %.1fs; signed by %s\non the board, as root: sh %s --check, then sh %s --switch",
		r.Sequence, orDash(r.Hostname), r.Board, r.Paths, deltas, MiB(r.Bytes), MiB(r.ClosureBytes),
		file, r.Seconds, r.PublicKey, filepath.Base(r.firstFile()), filepath.Base(r.firstFile()))
}

func (r Result) firstFile() string {
	if len(r.Parts) > 0 {
		return r.Parts[0]
	}
	return r.File
}

// Phase is a part of writing a bundle.
type Phase struct {
	Event string    `json:"event"` // "phase"
	At    time.Time `json:"at"`
	Phase string    `json:"phase"`
	What  string    `json:"text"`
}

// Text renders the phase line.
func (p Phase) Text() string { return "== " + p.What }

type writer struct {
	edge    Edge
	m       Mirror
	o       Options
	sink    step.Sink
	log     io.Writer
	started time.Time

	board    string
	baseRaw  []byte
	base     *Manifest
	target   string
	system   string
	closure  map[string]Info
	send     []Info
	stage    string
	key      signingKey
	sequence int64
	deltas   []Delta
	decoder  string // --decoder's store path
	zstdCLI  bool   // zstd is on this machine: jetup compresses the NARs
}

func (w *writer) phase(id, format string, args ...any) {
	what := fmt.Sprintf(format, args...)
	fmt.Fprintf(w.log, "%.2fs ", time.Since(w.started).Seconds())
	w.sink.Emit(Phase{Event: "phase", At: time.Now(), Phase: id, What: what})
	fmt.Fprintln(w.log, "== "+what)
}

// Write makes a bundle of exactly the closure's paths that the board's
// manifest lacks, signed, with the board-side script at its head.
func Write(ctx context.Context, edge Edge, m Mirror, o Options, sink step.Sink) (*Result, error) {
	w := &writer{edge: edge, m: m, o: o, sink: sink, log: io.Discard, started: time.Now()}
	if o.Log != nil {
		// The deltas are made two at a time, each writing to the log.
		w.log = &lockedWriter{w: o.Log}
	}
	if w.o.Level == 0 {
		w.o.Level = DefaultLevel
	}
	if err := w.validate(); err != nil {
		return nil, err
	}
	if err := w.loadBase(); err != nil {
		return nil, err
	}
	if err := w.resolve(ctx); err != nil {
		return nil, err
	}
	key, err := loadKey(ctx, edge.Nix, o.SignKey, o.KeyDir)
	if err != nil {
		return nil, err
	}
	w.key = key
	unlock, err := m.lock(w.board)
	if err != nil {
		return nil, step.Errorf("state-dir", "check that the state dir is writable", "%v", err)
	}
	defer unlock()
	if err := w.nextSequence(); err != nil {
		return nil, err
	}
	out, err := filepath.Abs(o.Output)
	if err != nil {
		return nil, step.Refuse("usage", "pass -o FILE", "%v", err)
	}
	w.stage, err = os.MkdirTemp(filepath.Dir(out), ".jetup-bundle-")
	if err != nil {
		return nil, step.Refuse("bad-output", "pass -o with a file in a directory you can write", "%v", err)
	}
	defer os.RemoveAll(w.stage)
	_, lookErr := edge.Runner.LookPath("zstd")
	w.zstdCLI = lookErr == nil
	if err := w.cache(ctx); err != nil {
		return nil, err
	}
	if err := w.makeDeltas(ctx); err != nil {
		return nil, err
	}
	if err := w.compress(ctx); err != nil {
		return nil, err
	}
	res, err := w.assemble(ctx, out)
	if err != nil {
		return nil, err
	}
	if err := w.recordSent(res); err != nil {
		return nil, step.Errorf("state-dir", "check that the state dir is writable", "recording the bundle: %v", err)
	}
	res.Seconds = time.Since(w.started).Seconds()
	return res, nil
}

func (w *writer) validate() error {
	o := w.o
	switch {
	case o.Closure == "" && o.Flake == "":
		return step.Refuse("usage", "pass --closure STOREPATH or --flake REF#NAME", "no system to bundle")
	case o.Closure != "" && o.Flake != "":
		return step.Refuse("usage", "pass either --closure or --flake", "both --closure and --flake given")
	case (o.For == "") == (o.Base == ""):
		return step.Refuse("usage", "pass --for HOST|FINGERPRINT (a board jetup boards lists) or --base MANIFEST.json", "give one of --for and --base")
	case o.Output == "":
		return step.Refuse("usage", "pass -o FILE", "no output file")
	case o.Split != 0 && o.Split < MinSplit:
		return step.Refuse("usage", "pass --split of at least 64K", "--split %d is smaller than %d bytes", o.Split, MinSplit)
	case o.ProfilePath != "" && !IsProfile(o.ProfilePath):
		return step.Refuse("usage", "pass a profile under /nix/var/nix/profiles", "--profile-path %q is not a Nix profile", o.ProfilePath)
	case o.Level < 1 || o.Level > 22:
		return step.Refuse("usage", "pass a zstd level from 1 to 22", "--level %d", o.Level)
	}
	return nil
}

// loadBase reads the manifest the bundle is made against.
func (w *writer) loadBase() error {
	if w.o.Base != "" {
		raw, err := safe.ReadFile(w.o.Base, MaxManifest)
		if err == nil {
			w.base, err = ParseManifest(raw)
		}
		if err != nil {
			return step.Refuse("bad-manifest", "pass the JSON the board printed with sh BUNDLE --manifest, unchanged", "--base %s: %v", w.o.Base, err)
		}
		w.baseRaw, w.board = raw, w.base.Fingerprint
		// The mirror keeps it when it knows nothing newer of the board.
		if _, known, err := w.m.Manifest(w.board); err != nil || known.Time.Before(w.base.Time) {
			if _, err := w.m.Record(raw, Seen{From: "file"}); err != nil {
				return step.Errorf("state-dir", "check that the state dir is writable", "recording the manifest: %v", err)
			}
		}
		return nil
	}
	bd, err := w.m.Find(w.o.For)
	if errors.Is(err, ErrUnknownBoard) {
		return step.Refuse("unknown-board", "jetup boards lists the boards with a manifest; record one with jetup manifest --host H (or --from FILE), or pass --base MANIFEST.json",
			"no manifest recorded for %s", w.o.For)
	}
	if err != nil {
		return step.Refuse("unknown-board", "name the board by its fingerprint (jetup boards)", "%v", err)
	}
	w.baseRaw, w.base, err = w.m.Manifest(bd.Fingerprint)
	if err != nil {
		return step.Refuse("unknown-board", "record the board's manifest again: jetup manifest --host H", "%v", err)
	}
	w.board = bd.Fingerprint
	return nil
}

// resolve builds or resolves the target and reads its closure.
func (w *writer) resolve(ctx context.Context) error {
	profile := w.profile()
	if w.base.Profile != profile {
		return step.Refuse("wrong-profile", "record the manifest for that profile (jetup manifest --profile-path "+profile+"), or bundle for "+w.base.Profile,
			"the manifest covers %s, the bundle targets %s", w.base.Profile, profile)
	}
	if w.o.Flake != "" {
		inst, err := flakeInstallable(w.o.Flake, profile == SystemProfile)
		if err != nil {
			return step.Refuse("usage", "pass --flake REF#NAME", "%v", err)
		}
		w.phase("build", "building %s", inst)
		// System lets the Nix runner's preflight refuse, before nix
		// evaluates anything, an aarch64 board's system on a host that
		// cannot build for it (issue 14).
		w.target, err = w.edge.Nix.Build(ctx, nixrun.Build{Installable: inst, Log: nixrun.Watch{Raw: w.log}, System: w.base.Arch + "-linux"})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var se *step.Error
			if errors.As(err, &se) { // a PreBuild refusal says what to do itself
				return err
			}
			return &step.Error{Cause: "build-failed", Err: err, What: "nix build " + inst + " failed",
				Next: "fix the error it printed (the log has the whole output), or build by hand: nix build " + inst}
		}
	} else {
		p, err := filepath.EvalSymlinks(w.o.Closure)
		if err == nil && !IsStorePath(p) {
			err = fmt.Errorf("it resolves to %s, not a store path", p)
		}
		if err != nil {
			return step.Refuse("bad-closure", "pass the store path of a built system (or a link to it, like ./result)", "--closure %s: %v", w.o.Closure, err)
		}
		w.target = p
	}
	if profile == SystemProfile {
		b, err := os.ReadFile(filepath.Join(w.target, "system"))
		if err != nil {
			return step.Refuse("bad-closure", "pass a NixOS system toplevel (config.system.build.toplevel), or --profile-path for another profile",
				"%s is not a NixOS system: it has no `system` file", w.target)
		}
		w.system = strings.TrimSpace(string(b))
		if want := w.base.Arch + "-linux"; w.system != want {
			return step.Refuse("wrong-arch", "build the system for "+want, "the system is for %s and the board (%s) is %s", w.system, orDash(w.base.Hostname), want)
		}
	}
	if err := w.resolveDecoder(ctx); err != nil {
		return err
	}
	args := []string{"path-info", "-r", "--json", w.target}
	if w.decoder != "" {
		// The decoder goes with the system: the board keeps it, and the
		// mirror counts it once a receipt comes home.
		args = append(args, w.decoder)
	}
	out, err := w.edge.Nix.Run(ctx, nixrun.Call{Args: args, MaxStdout: 256 << 20, Log: nixrun.Watch{Raw: w.log}})
	if err == nil {
		w.closure, err = parsePathInfo(out)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return step.Refuse("bad-closure", "check that the system is built and valid here: nix path-info -r "+w.target, "cannot list the closure: %v", err)
	}
	if _, ok := w.closure[w.target]; !ok {
		return step.Refuse("bad-closure", "check the system: nix path-info -r "+w.target, "nix path-info did not list %s", w.target)
	}
	for _, p := range keys(w.closure) {
		if !w.base.Has(p) {
			w.send = append(w.send, w.closure[p])
		}
	}
	fmt.Fprintf(w.log, "%.2fs closure: %d paths, %d the board lacks\n", time.Since(w.started).Seconds(), len(w.closure), len(w.send))
	return nil
}

// resolveDecoder checks --decoder: a valid store path with bin/zstd and
// no references but itself, since the board runs it straight from the
// bundle, before anything is imported.
func (w *writer) resolveDecoder(ctx context.Context) error {
	if w.o.Decoder == "" {
		return nil
	}
	refuse := func(format string, args ...any) error {
		return step.Refuse("bad-decoder", "pass a static zstd built for the board, e.g. nix build nixpkgs#pkgsCross.aarch64-multiplatform.pkgsStatic.zstd.bin",
			"--decoder "+w.o.Decoder+": "+format, args...)
	}
	p, err := filepath.EvalSymlinks(w.o.Decoder)
	if err != nil {
		return refuse("%v", err)
	}
	if rest, ok := strings.CutPrefix(p, "/nix/store/"); ok {
		p = "/nix/store/" + strings.SplitN(rest, "/", 2)[0] // a link to its bin/zstd: the path itself
	}
	if !IsStorePath(p) {
		return refuse("%s is not a store path", p)
	}
	if fi, err := os.Stat(filepath.Join(p, "bin", "zstd")); err != nil || !fi.Mode().IsRegular() {
		return refuse("%s has no bin/zstd", p)
	}
	out, err := w.edge.Nix.Run(ctx, nixrun.Call{Args: []string{"path-info", "-r", "--json", p}, Log: nixrun.Watch{Raw: w.log}})
	if err != nil {
		return refuse("%s is not valid here: %v", p, nixrun.ReasonOf(err))
	}
	cl, err := parsePathInfo(out)
	if err != nil {
		return refuse("%v", err)
	}
	if len(cl) != 1 {
		return refuse("%s refers to %d other store paths; the board runs it before importing anything, so it must be static", p, len(cl)-1)
	}
	w.decoder = p
	return nil
}

func (w *writer) profile() string {
	if w.o.ProfilePath != "" {
		return w.o.ProfilePath
	}
	return SystemProfile
}

// flakeInstallable expands REF#NAME as nixos-rebuild --flake does for a
// system; another profile's NAME is used as given (a package).
func flakeInstallable(ref string, system bool) (string, error) {
	flake, name, ok := strings.Cut(ref, "#")
	if !ok || flake == "" || name == "" {
		return "", fmt.Errorf("--flake %q: expected REF#NAME", ref)
	}
	if !system || strings.Contains(name, ".") {
		return ref, nil
	}
	return flake + "#nixosConfigurations." + name + ".config.system.build.toplevel", nil
}

// nextSequence is one more than any bundle written for the board or
// applied by it (the board refuses anything not newer than what it applied).
func (w *writer) nextSequence() error {
	bd, err := w.m.Load(w.board)
	if err != nil && !errors.Is(err, ErrUnknownBoard) {
		return step.Errorf("state-dir", "check the state dir", "%v", err)
	}
	last := w.base.Sequence
	if bd != nil {
		last = max(last, bd.Issued, bd.Applied)
	}
	w.sequence = last + 1
	return nil
}

// cache writes the binary cache of the paths to send: nix copy
// --no-recursive into a directory where each path they build on has a
// stand-in narinfo (the board's, from its manifest), since a binary cache
// takes a path only when its references are in it. The stand-ins are
// removed after: the bundle carries exactly the missing paths.
func (w *writer) cache(ctx context.Context) error {
	dir := filepath.Join(w.stage, "jetup-bundle", "cache")
	if err := os.MkdirAll(filepath.Join(dir, "nar"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "nix-cache-info"), []byte("StoreDir: /nix/store\n"), 0o644); err != nil {
		return err
	}
	var stand []string
	for _, ref := range w.baseRefs() {
		p, ok := w.base.Get(ref)
		if !ok {
			continue
		}
		name := filepath.Join(dir, HashPart(ref)+".narinfo")
		ni := fmt.Sprintf("StorePath: %s\nURL: nar/on-the-board.nar\nCompression: none\nNarHash: %s\nNarSize: %d\n", ref, p.NarHash, p.NarSize)
		if err := os.WriteFile(name, []byte(ni), 0o644); err != nil {
			return err
		}
		stand = append(stand, name)
	}
	if len(w.send) > 0 {
		var nar int64
		paths := make([]string, len(w.send))
		for i, in := range w.send {
			paths[i], nar = in.Path, nar+in.NarSize
		}
		// With zstd here, nix copy writes the NARs as they are and jetup
		// compresses them after the deltas are made: a path that goes as a
		// delta is never compressed, and zstd's own command line takes less
		// than half the CPU nix's compression does (12.5 s against 30.6 s
		// for the benchmark's 500 NARs, same level, same bytes).
		compression := "none"
		if !w.zstdCLI {
			compression = "zstd"
		}
		w.phase("cache", "signing %d paths (%s of NAR)", len(paths), MiB(nar))
		url := fmt.Sprintf("file://%s?compression=%s&compression-level=%d&secret-key=%s", dir, compression, w.o.Level, w.key.file)
		_, err := w.edge.Nix.Run(ctx, nixrun.Call{Args: append([]string{"copy", "--no-recursive", "--to", url}, paths...), Log: nixrun.Watch{Raw: w.log}})
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &step.Error{Cause: "copy-failed", Err: err, What: "nix copy into the bundle's cache failed",
				Next: "check the free space next to " + w.o.Output + " and that the key file is a Nix secret key (nix key generate-secret)"}
		}
	}
	for _, f := range stand {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return nil
}

// baseRefs are the paths the sent paths refer to that are not sent
// themselves (the board has them), and the target when it is not sent.
func (w *writer) baseRefs() []string {
	sent := map[string]bool{}
	for _, in := range w.send {
		sent[in.Path] = true
	}
	refs := map[string]bool{}
	for _, in := range w.send {
		for _, r := range in.References {
			if !sent[r] {
				refs[r] = true
			}
		}
	}
	if !sent[w.target] {
		refs[w.target] = true
	}
	for _, d := range w.deltas {
		refs[d.Base] = true
	}
	return keys(refs)
}

// sent is what home keeps of each bundle: bundles/<seq>.json. A receipt
// that says it applied brings these paths into the board's manifest.
type sent struct {
	Sequence     int64     `json:"sequence"`
	Board        string    `json:"board"`
	Target       string    `json:"target"`
	Profile      string    `json:"profile"`
	BaseManifest string    `json:"base_manifest"`
	File         string    `json:"file"`
	Bytes        int64     `json:"bytes"`
	Made         time.Time `json:"made"`
	Paths        []Path    `json:"paths"`
	Closure      []Path    `json:"closure"`
}

func (w *writer) recordSent(res *Result) error {
	s := sent{Sequence: w.sequence, Board: w.board, Target: w.target, Profile: w.profile(), BaseManifest: res.BaseManifest,
		File: res.File, Bytes: res.Bytes, Made: time.Now().UTC()}
	for _, in := range w.send {
		s.Paths = append(s.Paths, Path{Path: in.Path, NarHash: in.NarHash, NarSize: in.NarSize})
	}
	for _, p := range keys(w.closure) {
		in := w.closure[p]
		s.Closure = append(s.Closure, Path{Path: in.Path, NarHash: in.NarHash, NarSize: in.NarSize})
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	if err := writeFile(filepath.Join(w.m.dir(w.board), "bundles", fmt.Sprintf("%d.json", w.sequence)), append(b, '\n')); err != nil {
		return err
	}
	bd, err := w.m.Load(w.board)
	if err != nil {
		return err
	}
	bd.Issued = w.sequence
	bd.Updated = time.Now().UTC()
	return w.m.save(bd)
}

// sha256Hex is the hex SHA-256 of a file's bytes from off, n bytes.
func sha256Hex(f *os.File, off, n int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, off, n)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// lockedWriter serialises writes to the log.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
