package testkit

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FakeNix describes a stand-in for `nix build` put first on PATH. The real
// nix is used wherever a test can (flakes with builder = "/bin/sh"); the
// fake is for what it cannot be made to do on demand: print one huge log
// line, or be an older Nix.
type FakeNix struct {
	// Out is the output path it reports (a directory the test made).
	Out string
	// LongLine is the length of one stderr line of 'x's printed before
	// the log, 0 for none.
	LongLine int
	// Old makes it Nix < 2.9: --print-out-paths is an unknown flag.
	Old bool
	// Fail makes the build fail the way a failing builder does.
	Fail bool
}

// Install writes the fake as `nix` in a fresh directory at the front of
// PATH and returns the file where every call's arguments are appended,
// one call per line.
//
// Every shape it prints was captured from the real Nix 2.8.0 (Debian's
// nix-bin) on the build machine: `nix build --print-out-paths` refused
// with "error: unrecognised flag '--print-out-paths'" and "Try 'nix
// --help' for more information." on stderr and exit status 1; `--json`
// printing `[{"drvPath":…,"outputs":{"out":…}}]` on stdout; the
// internal-json lines of a one-derivation build (actBuilds 104, actBuild
// 105 with its build-log line 101, progress 105) and, for a failure, the
// level-0 msg "builder for '…' failed with exit code 3" (colour codes
// included), exit status 1.
func (f FakeNix) Install(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	var s strings.Builder
	s.WriteString("#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + strconv.Quote(calls) + "\n")
	if f.Old {
		s.WriteString(`case " $* " in *" --print-out-paths "*)
  echo "error: unrecognised flag '--print-out-paths'" >&2
  echo "Try 'nix --help' for more information." >&2
  exit 1 ;;
esac
`)
	}
	if f.LongLine > 0 {
		s.WriteString("head -c " + strconv.Itoa(f.LongLine) + " /dev/zero | tr '\\0' x >&2; echo >&2\n")
	}
	s.WriteString(`drv=/nix/store/7jinq9hix3b7170bpv46qgdhp2v853gr-fake.drv
echo '@nix {"action":"start","id":113876762886146,"level":0,"text":"","type":104}' >&2
echo '@nix {"action":"result","fields":[0,1,0,0],"id":113876762886146,"type":105}' >&2
echo '@nix {"action":"start","fields":["'$drv'","",1,1],"id":113876762886149,"level":3,"text":"building '"'$drv'"'","type":105}' >&2
echo '@nix {"action":"result","fields":[0,1,1,0],"id":113876762886146,"type":105}' >&2
echo '@nix {"action":"result","fields":["fake builder output"],"id":113876762886149,"type":101}' >&2
`)
	if f.Fail {
		s.WriteString(`echo '@nix {"action":"result","fields":[0,0,0,1],"id":113876762886146,"type":105}' >&2
echo '@nix {"action":"stop","id":113876762886149}' >&2
echo '@nix {"action":"stop","id":113876762886146}' >&2
printf '%s\n' '@nix {"action":"msg","column":null,"file":null,"level":0,"line":null,"msg":"\u001b[31;1merror:\u001b[0m \u001b[35;1m\u001b[0mbuilder for '"'"'\u001b[35;1m/nix/store/7jinq9hix3b7170bpv46qgdhp2v853gr-fake.drv\u001b[0m'"'"' failed with exit code 3\u001b[0m"}' >&2
exit 1
`)
	} else {
		s.WriteString(`echo '@nix {"action":"result","fields":[1,1,0,0],"id":113876762886146,"type":105}' >&2
echo '@nix {"action":"stop","id":113876762886149}' >&2
echo '@nix {"action":"stop","id":113876762886146}' >&2
out=` + strconv.Quote(f.Out) + `
case " $* " in
  *" --json "*) printf '[{"drvPath":"%s","outputs":{"out":"%s"}}]\n' "$drv" "$out" ;;
  *) printf '%s\n' "$out" ;;
esac
`)
	}
	if err := os.WriteFile(filepath.Join(dir, "nix"), []byte(s.String()), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	return calls
}
