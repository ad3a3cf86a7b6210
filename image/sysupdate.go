package image

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// Sysupdate is what systemd-repart / systemd-sysupdate naming says: in an
// image, the versioned partitions (`nix-store_1.2.3`) and the empty A/B
// slots (`_empty`); in a sysupdate directory, each file with its version
// and whether SHA256SUMS covers and matches it.
type Sysupdate struct {
	Partitions []Versioned     `json:"partitions,omitempty"`
	EmptySlots int             `json:"empty_slots,omitempty"`
	Files      []SysupdateFile `json:"files,omitempty"`
	Versions   []string        `json:"versions"`
	Signed     bool            `json:"signed"` // SHA256SUMS.gpg is there (checked by update --gpg-key)
	sums       map[string]string
}

// Versioned is a partition or file named <name>_<version>.
type Versioned struct {
	Index   int    `json:"index,omitempty"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// SysupdateFile is one file of a sysupdate directory.
type SysupdateFile struct {
	Filename string `json:"filename"`
	Name     string `json:"name,omitempty"`
	Version  string `json:"version,omitempty"`
	Size     int64  `json:"size"`
	SHA256   string `json:"sha256"`
	// OK is true when SHA256SUMS lists the file with this hash.
	OK bool `json:"ok"`
}

// sysupdateRe is sysupdate's <id>_<version>: the version starts with a
// digit; a UKI may carry boot counting ("+3-0").
var sysupdateRe = regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9.-]*?)_([0-9][0-9A-Za-z.~^]*)(?:\+[0-9]+(?:-[0-9]+)?)?$`)

// sysupdateName splits "nix-store_1.2.3" (a file's first dot-separated
// suffixes dropped: "appliance_1.2.3.nix-store.raw.zst").
func sysupdateName(s string) (name, version string, ok bool) {
	if m := sysupdateRe.FindStringSubmatch(s); m != nil {
		return m[1], m[2], true
	}
	return "", "", false
}

// fileVersion finds <id>_<version> at the start of a file name, the
// version ending where a suffix that starts with a letter begins.
func fileVersion(file string) (name, version string, ok bool) {
	id, rest, found := strings.Cut(file, "_")
	if !found || id == "" || rest == "" || rest[0] < '0' || rest[0] > '9' {
		return "", "", false
	}
	parts := strings.Split(rest, ".")
	v := parts[0]
	for _, p := range parts[1:] {
		if p == "" || p[0] < '0' || p[0] > '9' {
			break
		}
		v += "." + p
	}
	v, _, _ = strings.Cut(v, "+")
	return id, v, true
}

func sysupdateFromLabels(r *Report) *Sysupdate {
	s := &Sysupdate{Versions: []string{}}
	for _, p := range r.Partitions {
		if p.Label == "_empty" {
			s.EmptySlots++
			continue
		}
		if n, v, ok := sysupdateName(p.Label); ok {
			s.Partitions = append(s.Partitions, Versioned{Index: p.Index, Name: n, Version: v})
			s.addVersion(v)
		}
	}
	for _, b := range r.Boot {
		if b.Kind == "uki" {
			if _, v, ok := fileVersion(filepath.Base(b.Path)); ok {
				s.addVersion(v)
			}
		}
	}
	if len(s.Partitions) == 0 && s.EmptySlots == 0 {
		return nil
	}
	return s
}

func (s *Sysupdate) addVersion(v string) {
	for _, x := range s.Versions {
		if x == v {
			return
		}
	}
	s.Versions = append(s.Versions, v)
}

func (s *Sysupdate) lines() []string {
	var out []string
	if len(s.Files) > 0 {
		out = append(out, fmt.Sprintf("sysupdate directory, version %s, SHA256SUMS signature file: %v", orDash(strings.Join(s.Versions, ", ")), yesNo(s.Signed)))
		for _, f := range s.Files {
			state := "sha256 ok"
			if !f.OK {
				state = "NOT COVERED or MISMATCH in SHA256SUMS"
			}
			out = append(out, fmt.Sprintf("  %s (%s): %s", f.Filename, media.HumanIEC(f.Size), state))
		}
		return out
	}
	var parts []string
	for _, p := range s.Partitions {
		parts = append(parts, fmt.Sprintf("%d=%s %s", p.Index, p.Name, p.Version))
	}
	out = append(out, fmt.Sprintf("  repart/sysupdate: %s; %d empty A/B slot(s)", orDash(strings.Join(parts, ", ")), s.EmptySlots))
	return out
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Limits on a sysupdate directory.
const (
	maxSumsFile = 1 << 20
	maxDirFiles = 10000
)

// InspectSysupdate checks a sysupdate directory: every file must be listed
// in SHA256SUMS with its hash, every listed file must be there.
func InspectSysupdate(dir string) (*Report, error) {
	rep := &Report{File: dir, Kind: KindSysupdate, Table: "none", Partitions: []Partition{}, Boot: []Boot{}, Problems: []Problem{}}
	s, err := readSysupdateDir(dir, rep)
	if err != nil {
		return nil, err
	}
	rep.Sysupdate = s
	return rep, nil
}

func readSysupdateDir(dir string, rep *Report) (*Sysupdate, error) {
	sums, err := readSums(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, step.Refuse("image-unreadable", "check the directory's permissions", "%v", err)
	}
	if len(ents) > maxDirFiles {
		return nil, step.Refuse("image-format", "pass a sysupdate directory (the files of one or a few versions and SHA256SUMS)", "%s has %d entries", dir, len(ents))
	}
	s := &Sysupdate{Versions: []string{}, sums: sums}
	seen := map[string]bool{}
	for _, e := range ents {
		n := e.Name()
		if n == "SHA256SUMS" || n == "SHA256SUMS.gpg" {
			s.Signed = s.Signed || n == "SHA256SUMS.gpg"
			continue
		}
		if !e.Type().IsRegular() {
			continue
		}
		f := SysupdateFile{Filename: n}
		f.Name, f.Version, _ = fileVersion(n)
		f.SHA256, f.Size, err = hashFile(filepath.Join(dir, n))
		if err != nil {
			rep.problem(n, "cannot be read: %v", err)
			continue
		}
		want, listed := sums[n]
		f.OK = listed && want == f.SHA256
		switch {
		case !listed:
			rep.problem(n, "SHA256SUMS does not cover %s: it would be sent unchecked (add it with sha256sum, or remove the file)", n)
		case !f.OK:
			rep.problem(n, "its sha256 is %s, SHA256SUMS says %s", f.SHA256, want)
		}
		seen[n] = true
		if f.Version != "" {
			s.addVersion(f.Version)
		}
		s.Files = append(s.Files, f)
	}
	var names []string
	for n := range sums {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !seen[n] {
			rep.problem(n, "SHA256SUMS lists %s but the directory has no such file", n)
		}
	}
	if len(s.Files) == 0 {
		rep.problem("SHA256SUMS", "the directory has no files to update with")
	}
	return s, nil
}

// readSums reads a SHA256SUMS file ("HASH  NAME" or "HASH *NAME").
func readSums(path string) (map[string]string, error) {
	raw, err := safe.ReadFile(path, maxSumsFile)
	if errors.Is(err, safe.ErrTooLarge) {
		return nil, step.Refuse("sums-format", "SHA256SUMS lists a directory's files: it is never this big", "%v", err)
	}
	if err != nil {
		return nil, step.Refuse("sums-missing", "a sysupdate directory carries a SHA256SUMS file (sha256sum * > SHA256SUMS)", "cannot read %s: %v", path, err)
	}
	out := map[string]string{}
	for i, line := range strings.Split(string(raw), "\n") {
		if l := strings.TrimSpace(line); l != "" {
			hash, name, ok := strings.Cut(l, " ")
			name = strings.TrimPrefix(strings.TrimLeft(name, " "), "*")
			if _, herr := hex.DecodeString(hash); !ok || len(hash) != 64 || herr != nil || name == "" || strings.Contains(name, "/") {
				return nil, step.Refuse("sums-format", "SHA256SUMS lines are `HASH  NAME` as sha256sum writes them", "%s line %d is not a sha256sum line: %q", path, i+1, clean(trunc(l, 80)))
			}
			out[name] = strings.ToLower(hash)
		}
	}
	return out, nil
}

func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
