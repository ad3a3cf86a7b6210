package deploy

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// ToDirOptions write a system to a directory for a board with no network.
type ToDirOptions struct {
	Closure, Flake string
	Dir            string
	Log            io.Writer
	ProgressEvery  time.Duration
}

// ToDirResult is the directory written.
type ToDirResult struct {
	Event      string  `json:"event"` // "result"
	Dir        string  `json:"dir"`
	System     string  `json:"system"`
	SystemType string  `json:"system_type"`
	Paths      int     `json:"paths"`
	Written    int     `json:"written"` // paths not already in the directory
	NarBytes   int64   `json:"nar_bytes"`
	Script     string  `json:"script"`
	Command    string  `json:"command"` // what to run on the board
	Seconds    float64 `json:"seconds"`
}

// Text says where it is and what to run on the board.
func (r ToDirResult) Text() string {
	return fmt.Sprintf("wrote %s (%d paths, %s of NAR, %d new) to %s\non the board, as root, with the stick mounted: %s",
		shortPath(r.System), r.Paths, MiB(r.NarBytes), r.Written, r.Dir, r.Command)
}

// ToDir writes the closure as a zstd-compressed binary cache into dir, with
// jetup-import.sh beside it: on the board the script imports the system
// and activates it. Paths already in dir are not written again.
func ToDir(ctx context.Context, nix Nix, o ToDirOptions, sink step.Sink) (*ToDirResult, error) {
	p := &pusher{edge: Edge{Nix: nix}, o: Options{Closure: o.Closure, Flake: o.Flake, ProgressEvery: o.ProgressEvery, Log: o.Log},
		sink: sink, log: io.Discard, started: time.Now()}
	if o.Log != nil {
		p.log = &lockedWriter{w: o.Log}
	}
	if p.o.ProgressEvery == 0 {
		p.o.ProgressEvery = 250 * time.Millisecond
	}
	switch {
	case o.Dir == "":
		return nil, step.Refuse(string(CauseUsage), "pass --to-dir DIR (a directory on the stick)", "no directory given")
	case o.Closure == "" && o.Flake == "":
		return nil, step.Refuse(string(CauseUsage), "pass --closure STOREPATH or --flake REF#NAME", "no system to write")
	}
	dir, err := filepath.Abs(o.Dir)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err != nil {
		return nil, step.Refuse(string(CauseBadDir), "pass a directory you can write (the stick's mount point)", "--to-dir %s: %v", o.Dir, err)
	}
	system, err := p.system(ctx)
	if err != nil {
		return nil, err
	}
	p.res.System = system
	if err := p.readClosure(ctx, system); err != nil {
		return nil, err
	}
	missing := missingInCache(dir, p.closure)
	var bytes int64
	for _, m := range missing {
		bytes += m.NarSize
	}
	p.sink.Emit(Delta{Event: "delta", At: time.Now(), Paths: len(p.closure.Paths), Missing: len(missing),
		Present: len(p.closure.Paths) - len(missing), SendBytes: bytes, TotalBytes: p.closure.Bytes})
	if free := freeBytes(dir); free >= 0 && free < bytes/2 {
		p.sink.Emit(step.Warning{At: time.Now(), Warning: fmt.Sprintf("%s free in %s for %s of NAR (zstd usually halves it)", MiB(free), dir, MiB(bytes)),
			Next: "use a larger stick if the copy runs out of space"})
	}
	p.phase(PhaseCopy, "writing %d paths (%s of NAR) to %s, zstd", len(missing), MiB(bytes), dir)
	tr := NewCopyTracker(missing)
	err = p.edge.Nix.Copy(ctx, CopyRequest{To: "file://" + dir + "?compression=zstd", Paths: []string{system}},
		p.progressWriter(tr))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &step.Error{Cause: string(CauseCopyFailed), Err: err, What: "nix copy to " + dir + " failed",
			Next: "check the free space and that the directory is writable; a new run writes only what is missing"}
	}
	script := filepath.Join(dir, "jetup-import.sh")
	if err := os.WriteFile(script, []byte(ImportScript(system)), 0o755); err != nil {
		return nil, step.Errorf(string(CauseBadDir), "check that "+dir+" is writable", "cannot write %s: %v", script, err)
	}
	return &ToDirResult{Event: "result", Dir: dir, System: system, SystemType: p.res.SystemType, Paths: len(p.closure.Paths),
		Written: len(missing), NarBytes: bytes, Script: script, Seconds: time.Since(p.started).Seconds(),
		Command: "sh /path/to/stick/" + filepath.Base(dir) + "/jetup-import.sh"}, nil
}

// progressWriter feeds nix's log into tr and emits throttled progress.
func (p *pusher) progressWriter(tr *CopyTracker) io.Writer {
	last := time.Time{}
	tr.sample(time.Now())
	return nixrun.NewLog(nixrun.Watch{Raw: p.log, Line: func(l nixrun.Line) {
		now := time.Now()
		if tr.Feed(l, now) && (now.Sub(last) >= p.o.ProgressEvery || len(tr.finished) == tr.pathsTotal) {
			last = now
			p.sink.Emit(tr.Snapshot(now))
		}
	}})
}

// missingInCache lists the closure's paths without a .narinfo in dir.
func missingInCache(dir string, c *Closure) []StorePath {
	var out []StorePath
	for _, sp := range c.Paths {
		hash, _, _ := strings.Cut(filepath.Base(sp.Path), "-")
		if _, err := os.Stat(filepath.Join(dir, hash+".narinfo")); err != nil {
			out = append(out, sp)
		}
	}
	return out
}

func freeBytes(dir string) int64 {
	var st unix.Statfs_t
	if unix.Statfs(dir, &st) != nil {
		return -1
	}
	return int64(st.Bavail) * st.Bsize
}

// ImportScript is jetup-import.sh: run as root on the board, it imports
// the system from the directory it sits in and activates it.
func ImportScript(system string) string {
	return `#!/bin/sh
# Written by jetup. Imports a NixOS system from the binary cache in this
# directory into the board's Nix store, then activates it. Run it as root on
# the board with the stick mounted:
#   sh jetup-import.sh            installer if the live installer has a disk
#                                 on /mnt, switch otherwise
#   sh jetup-import.sh installer|switch|boot|import
set -eu
PATH="$PATH:` + probePath + `"; export PATH
dir=$(cd "$(dirname "$0")" && pwd)
system=` + remote.ShellQuote(system) + `
mode=${1:-auto}
if [ "$mode" = auto ]; then
  mode=switch
  if awk '$2 == "/mnt" { f = 1 } END { exit !f }' /proc/mounts && [ -e /nix/.ro-store ] &&
    command -v nixos-install >/dev/null 2>&1; then mode=installer; fi
fi
case "$mode" in
  installer) set -- --to "local?root=/mnt" ;;
  switch|boot|import) set -- ;;
  *) echo "usage: sh $0 [installer|switch|boot|import]" >&2; exit 2 ;;
esac
echo "jetup: importing $system ($mode)"
nix --extra-experimental-features nix-command copy --no-check-sigs --from "file://$dir" "$@" "$system"
case "$mode" in
  installer) nixos-install --system "$system" --root /mnt --no-root-passwd --no-channel-copy ;;
  switch|boot)
    nix-env -p /nix/var/nix/profiles/system --set "$system"
    "$system/bin/switch-to-configuration" "$mode" ;;
  import) echo "jetup: imported; activate with: sh $0 switch (or boot, or installer)" ;;
esac
echo "jetup: done"
`
}
