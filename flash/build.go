package flash

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// BuildOptions say what to build.
type BuildOptions struct {
	Ref string // "github:anduril/jetpack-nixos#flash-orin-nano-super-devkit"
	// OutLink keeps the result as a GC root between the build and the
	// flash; "" builds with --no-link.
	OutLink string
	Runner  proc.Runner
	// Log receives nix's raw stderr.
	Log io.Writer
}

// nixFeatures: jetup never asks the person to edit nix.conf.
var nixFeatures = []string{"--extra-experimental-features", "nix-command flakes"}

// Build runs `nix build REF --print-out-paths --log-format internal-json`,
// reporting progress from the JSON log, and returns the output path. Nix
// before 2.9 has no --print-out-paths: Build then asks for --json instead.
func Build(ctx context.Context, o BuildOptions, sink step.Sink) (string, error) {
	if o.Runner == nil {
		o.Runner = proc.Host{}
	}
	if _, err := o.Runner.LookPath("nix"); err != nil {
		return "", step.Errorf("no-nix", "install Nix (https://nixos.org/download) or pass --script with a flash script built elsewhere",
			"nix is not installed, so the flash script cannot be built")
	}
	out, stderr, err := nixBuild(ctx, o, sink, "--print-out-paths")
	if err != nil && strings.Contains(stderr, "unrecognised flag '--print-out-paths'") {
		out, stderr, err = nixBuild(ctx, o, sink, "--json")
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	if err != nil {
		return "", step.Errorf("build-failed", "read nix's error above; fix the flake or pass --flake/--script, then flash again",
			"nix build %s failed: %s", o.Ref, lastError(stderr, err))
	}
	path := outPath(out)
	if path == "" {
		return "", step.Errorf("build-failed", "run the nix build by hand to see what it printed", "nix build %s printed no output path", o.Ref)
	}
	return path, nil
}

func nixBuild(ctx context.Context, o BuildOptions, sink step.Sink, outFlag string) (stdout, stderr string, err error) {
	args := append(append([]string(nil), nixFeatures...), "build", o.Ref, outFlag, "--log-format", "internal-json")
	if o.OutLink != "" {
		args = append(args, "--out-link", o.OutLink)
	} else {
		args = append(args, "--no-link")
	}
	cmd := o.Runner.Command(ctx, "nix", args...)
	var so bytes.Buffer
	cmd.Stdout = &so
	se, perr := cmd.StderrPipe()
	if perr != nil {
		return "", "", perr
	}
	if err := cmd.Start(); err != nil {
		return "", "", err
	}
	p := newBuildProgress(o.Ref, sink)
	var plain strings.Builder
	sc := bufio.NewScanner(se)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if o.Log != nil {
			_, _ = o.Log.Write(append(line, '\n'))
		}
		if !p.line(line) {
			plain.Write(line)
			plain.WriteByte('\n')
		}
	}
	err = cmd.Wait()
	p.flush(err == nil)
	return so.String(), plain.String() + p.errors.String(), err
}

// outPath reads --print-out-paths (one path per line) or --json output.
func outPath(out string) string {
	out = strings.TrimSpace(out)
	if strings.HasPrefix(out, "[") {
		var res []struct {
			Outputs map[string]string `json:"outputs"`
		}
		if json.Unmarshal([]byte(out), &res) == nil && len(res) > 0 {
			if p := res[0].Outputs["out"]; p != "" {
				return p
			}
			for _, p := range res[0].Outputs {
				return p
			}
		}
		return ""
	}
	first, _, _ := strings.Cut(out, "\n")
	return strings.TrimSpace(first)
}

// lastError is the most useful line of nix's complaint.
func lastError(stderr string, err error) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "error:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "error:"))
		}
	}
	if n := len(lines); n > 0 && lines[n-1] != "" {
		return strings.TrimSpace(lines[n-1])
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Sprintf("exit status %d", ee.ExitCode())
	}
	return err.Error()
}

// Nix's activity and result types (src/libutil/logging.hh).
const (
	actCopyPath     = 100
	actFileTransfer = 101
	actCopyPaths    = 103
	actBuilds       = 104
	actBuild        = 105
	actSubstitute   = 108
	resProgress     = 105
)

type nixEvent struct {
	Action string            `json:"action"`
	ID     uint64            `json:"id"`
	Level  int               `json:"level"`
	Type   int               `json:"type"`
	Text   string            `json:"text"`
	Msg    string            `json:"msg"`
	Fields []json.RawMessage `json:"fields"`
}

// buildProgress folds nix's internal-json events into BuildEvents, at most
// a few per second.
type buildProgress struct {
	mu       sync.Mutex
	sink     step.Sink
	ev       BuildEvent
	types    map[uint64]int
	bytes    map[uint64]int64
	fetching map[uint64]bool
	last     time.Time
	dirty    bool
	errors   strings.Builder
}

func newBuildProgress(ref string, sink step.Sink) *buildProgress {
	return &buildProgress{sink: sink, ev: BuildEvent{Event: "build", Ref: ref},
		types: map[uint64]int{}, bytes: map[uint64]int64{}, fetching: map[uint64]bool{}}
}

// line takes one stderr line; false when it is not an internal-json event.
func (p *buildProgress) line(l []byte) bool {
	body, ok := bytes.CutPrefix(l, []byte("@nix "))
	if !ok {
		return false
	}
	var e nixEvent
	if json.Unmarshal(body, &e) != nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Action {
	case "start":
		p.types[e.ID] = e.Type
		switch e.Type {
		case actBuild:
			p.ev.Activity = shorten(e.Text)
		case actCopyPath, actSubstitute:
			if e.Type == actSubstitute || fieldString(e.Fields, 1) != "local" {
				p.fetching[e.ID] = true
				p.ev.Activity = shorten(e.Text)
			}
		}
		p.dirty = true
	case "stop":
		if p.fetching[e.ID] {
			delete(p.fetching, e.ID)
			p.ev.Downloaded++
			p.ev.Downloads = max(p.ev.Downloads, p.ev.Downloaded)
			p.dirty = true
		}
		delete(p.types, e.ID)
	case "result":
		if e.Type != resProgress || len(e.Fields) < 2 {
			break
		}
		done, expected := fieldInt(e.Fields, 0), fieldInt(e.Fields, 1)
		switch p.types[e.ID] {
		case actBuilds:
			p.ev.Built, p.ev.Total = int(done), int(expected)
			if len(e.Fields) > 2 {
				p.ev.Running = int(fieldInt(e.Fields, 2))
			}
		case actCopyPaths:
			p.ev.Downloads = max(p.ev.Downloads, int(expected))
		case actFileTransfer:
			p.bytes[e.ID] = done
			var sum int64
			for _, b := range p.bytes {
				sum += b
			}
			p.ev.Bytes = sum
		}
		p.dirty = true
	case "msg":
		if first, _, _ := strings.Cut(e.Msg, "\n"); e.Level == 0 {
			p.errors.WriteString(stripANSI(first) + "\n")
		}
	}
	if p.dirty && time.Since(p.last) > 200*time.Millisecond {
		p.emitLocked()
	}
	return true
}

func (p *buildProgress) emitLocked() {
	p.ev.At = now()
	p.sink.Emit(p.ev)
	p.last, p.dirty = time.Now(), false
}

// flush reports the final state.
func (p *buildProgress) flush(ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ev.Done, p.ev.Activity = ok, ""
	if ok && p.ev.Total > 0 {
		p.ev.Built = p.ev.Total
	}
	p.emitLocked()
}

func fieldInt(f []json.RawMessage, i int) int64 {
	if i >= len(f) {
		return 0
	}
	var n int64
	_ = json.Unmarshal(f[i], &n)
	return n
}

func fieldString(f []json.RawMessage, i int) string {
	if i >= len(f) {
		return ""
	}
	var s string
	_ = json.Unmarshal(f[i], &s)
	return s
}

// shorten turns "building '/nix/store/<hash>-name.drv'" into "building name".
func shorten(s string) string {
	s = stripANSI(s)
	for {
		i := strings.Index(s, "/nix/store/")
		if i < 0 {
			break
		}
		rest := s[i+len("/nix/store/"):]
		if j := strings.IndexByte(rest, '-'); j >= 0 && j <= 32 {
			rest = rest[j+1:]
		}
		s = s[:i] + rest
	}
	s = strings.NewReplacer("'", "", ".drv", "").Replace(s)
	if len(s) > 80 {
		s = s[:79] + "…"
	}
	return s
}

func stripANSI(s string) string {
	var buf []byte
	return string(cleanLine(&buf, []byte(s)))
}
