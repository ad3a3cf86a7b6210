package bundle

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"

	"github.com/jetup/jetup/remote"
)

// The board side is POSIX sh, so a board needs nothing but its own Nix:
// prelude.sh (PATH and the state directory), manifest.sh (the board's
// store state as JSON) and apply.sh (check, import, switch, confirm or roll
// back). A bundle carries all three; `jetup manifest` sends the first two
// over SSH; `jetup apply` runs jetup's own copy against a bundle's payload.

//go:embed prelude.sh
var preludeSh string

//go:embed manifest.sh
var manifestSh string

// Markers around the manifest in the SSH session's output: a login shell
// may print its own lines (a motd, a chatty profile) before it.
const (
	manifestBegin = "jetup:manifest-begin"
	manifestEnd   = "jetup:manifest-end"
)

// ManifestScript is the script `jetup manifest` runs on the board over SSH:
// the board's manifest for profile between marker lines.
func ManifestScript(profile string) string {
	if profile == "" {
		profile = SystemProfile
	}
	var b strings.Builder
	b.WriteString(preludeSh)
	b.WriteString("profile=" + remote.ShellQuote(profile) + "\n")
	b.WriteString(manifestSh)
	b.WriteString("echo " + manifestBegin + "\nmanifest || echo jetup:manifest-failed\necho " + manifestEnd + "\n")
	return b.String()
}

// SystemProfile is NixOS's system profile.
const SystemProfile = "/nix/var/nix/profiles/system"

//go:embed apply.sh
var applySh string

// Vars are the bundle script's own numbers and names, in its vars block:
// where the header is, so the script can find it. The board trusts none of
// them until it has compared each with the signed header.
type Vars struct {
	Format     string
	Sequence   int64
	Board      string
	Target     string
	Profile    string
	HeaderPath string
	ScriptSize int64
	HeaderSize int64
	TotalSize  int64
	SplitSize  int64
}

const (
	varsBegin = "# jetup:vars"
	varsEnd   = "# jetup:vars-end"
)

func (v Vars) block() string {
	q := remote.ShellQuote
	return fmt.Sprintf("%s\nformat=%s\nsequence=%d\nboard=%s\ntarget=%s\nprofile=%s\nheader_path=%s\nscript_size=%d\nheader_size=%d\ntotal_size=%d\nsplit_size=%d\n%s\n",
		varsBegin, q(v.Format), v.Sequence, q(v.Board), q(v.Target), q(v.Profile), q(v.HeaderPath),
		v.ScriptSize, v.HeaderSize, v.TotalSize, v.SplitSize, varsEnd)
}

// BundleScript is the sh script at the head of a bundle, banner first
// (the comment lines a person reads with head -n 30), padded with a last
// comment line to exactly v.ScriptSize bytes when that is larger.
func BundleScript(v Vars, banner string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	for _, l := range strings.Split(strings.TrimRight(banner, "\n"), "\n") {
		b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
	}
	b.WriteString(v.block())
	b.WriteString("bundle=${JETUP_BUNDLE:-$0}\n")
	b.WriteString(preludeSh)
	b.WriteString(manifestSh)
	b.WriteString(applySh)
	b.WriteString("main \"$@\"\nexit $?\n")
	if pad := int(v.ScriptSize) - b.Len(); pad > 0 {
		if pad == 1 {
			b.WriteString("\n")
		} else {
			b.WriteString(strings.Repeat("#", pad-1) + "\n")
		}
	}
	return b.String()
}

// ReadVars reads the vars block at the head of a bundle (jetup apply runs
// its own copy of the script with them): every value is checked, since
// they come from a file that may be anything.
func ReadVars(head []byte) (Vars, error) {
	var v Vars
	s := string(head)
	i := strings.Index(s, "\n"+varsBegin+"\n")
	j := strings.Index(s, "\n"+varsEnd+"\n")
	if i < 0 || j < i {
		return v, fmt.Errorf("not a jetup bundle (no vars block in its first %d bytes)", len(head))
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(s[i+len(varsBegin)+2:j], "\n") {
		k, val, ok := strings.Cut(line, "=")
		if !ok {
			return v, fmt.Errorf("bad vars line %.80q", line)
		}
		if strings.HasPrefix(val, "'") {
			if len(val) < 2 || !strings.HasSuffix(val, "'") || strings.Contains(val[1:len(val)-1], "'") {
				return v, fmt.Errorf("bad value for %s", k)
			}
			val = val[1 : len(val)-1]
		}
		n, nerr := strconv.ParseInt(val, 10, 64)
		seen[k] = true
		switch k {
		case "format":
			v.Format = val
		case "board":
			v.Board = val
		case "target":
			v.Target = val
		case "profile":
			v.Profile = val
		case "header_path":
			v.HeaderPath = val
		case "sequence", "script_size", "header_size", "total_size", "split_size":
			if nerr != nil || n < 0 {
				return v, fmt.Errorf("%s=%.40q is not a number", k, val)
			}
			*map[string]*int64{"sequence": &v.Sequence, "script_size": &v.ScriptSize, "header_size": &v.HeaderSize,
				"total_size": &v.TotalSize, "split_size": &v.SplitSize}[k] = n
		default:
			return v, fmt.Errorf("unknown var %.40q", k)
		}
	}
	switch {
	case len(seen) != 10:
		return v, fmt.Errorf("the vars block has %d of its 10 values", len(seen))
	case v.Format != HeaderFormat:
		return v, fmt.Errorf("bundle format %.40q; this jetup reads %s", v.Format, HeaderFormat)
	case !IsFingerprint(v.Board), !IsStorePath(v.Target), !IsProfile(v.Profile), !IsStorePath(v.HeaderPath):
		return v, fmt.Errorf("the vars block names no board, target, profile or header")
	}
	return v, nil
}

// ApplyScript is the script jetup apply runs: jetup's own copy of the
// board side, with the bundle's vars (it reads the bundle from
// $JETUP_BUNDLE).
func ApplyScript(v Vars) string {
	var b strings.Builder
	b.WriteString(v.block())
	b.WriteString("bundle=${JETUP_BUNDLE:-$0}\n")
	b.WriteString(preludeSh)
	b.WriteString(manifestSh)
	b.WriteString(applySh)
	b.WriteString("main \"$@\"\nexit $?\n")
	return b.String()
}
