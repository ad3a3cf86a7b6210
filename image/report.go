package image

import (
	"fmt"
	"strings"

	"github.com/jetup/jetup/disklabel"
	"github.com/jetup/jetup/media"
)

// Kinds of file inspect tells apart.
const (
	KindDisk      = "disk-image"
	KindSWU       = "swu"
	KindSysupdate = "sysupdate"
)

// Report is what `jetup inspect --json` prints.
type Report struct {
	File string `json:"file"`
	Kind string `json:"kind"`
	// Compression is the image file's compression ("raw", "zstd", ...).
	Compression string `json:"compression,omitempty"`
	// Size is the image's uncompressed size when known.
	Size int64 `json:"size,omitempty"`
	// Table is "gpt", "mbr" or "none".
	Table      string      `json:"table"`
	HybridMBR  bool        `json:"hybrid_mbr,omitempty"`
	Partitions []Partition `json:"partitions"`
	// FS is a file system on the whole image (an ISO, a split-out
	// partition file).
	FS        string     `json:"fs,omitempty"`
	FSLabel   string     `json:"fs_label,omitempty"`
	Boot      []Boot     `json:"boot"`
	Sysupdate *Sysupdate `json:"sysupdate,omitempty"`
	SWU       *SWU       `json:"swu,omitempty"`
	// Problems are what is wrong inside, each naming its entry; any
	// makes inspect exit 1.
	Problems []Problem `json:"problems"`

	disk *disklabel.Disk
}

// Partition is one partition of the image.
type Partition struct {
	Index    int    `json:"index"`
	Start    int64  `json:"start"`
	Size     int64  `json:"size"`
	Type     string `json:"type"`
	TypeName string `json:"type_name,omitempty"`
	Label    string `json:"label"`
	FS       string `json:"fs"`
	FSLabel  string `json:"fs_label,omitempty"`
}

// Boot is one part of a boot chain found in the image.
type Boot struct {
	// Kind is pi-firmware, u-boot, rpi-uefi, systemd-boot, uki,
	// efi-removable, grub, extlinux or linux.
	Kind string `json:"kind"`
	// Partition is where it was found (0: the whole image).
	Partition int    `json:"partition"`
	Path      string `json:"path,omitempty"`
	// Arch is the machine an EFI binary is for (aarch64, x86_64).
	Arch    string `json:"arch,omitempty"`
	Version string `json:"version,omitempty"`
	// Models are the Raspberry Pi models the firmware files boot.
	Models []string `json:"models,omitempty"`
	Detail string   `json:"detail,omitempty"`
}

// Problem is something wrong inside, naming the entry.
type Problem struct {
	Entry string `json:"entry"`
	What  string `json:"what"`
}

func (r *Report) problem(entry, format string, a ...any) {
	r.Problems = append(r.Problems, Problem{Entry: entry, What: fmt.Sprintf(format, a...)})
}

// OK is true when nothing inside is wrong.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Has reports whether a boot part of the kind was found.
func (r *Report) Has(kind string) bool {
	for _, b := range r.Boot {
		if b.Kind == kind {
			return true
		}
	}
	return false
}

// Lines is the summary a person reads (inspect's text face, the wizard's
// Write step).
func (r *Report) Lines() []string {
	var out []string
	switch r.Kind {
	case KindSWU:
		s := r.SWU
		out = append(out, fmt.Sprintf("SWUpdate bundle, version %s, hardware %s", orDash(s.Version), orDash(strings.Join(s.HardwareCompatibility, ", "))))
		for _, im := range s.Images {
			state := "sha256 ok"
			if !im.OK {
				state = "sha256 MISMATCH"
				if im.Missing {
					state = "MISSING from the bundle"
				}
			}
			out = append(out, fmt.Sprintf("  %s (%s): %s", im.Filename, orDash(im.Type), state))
		}
		out = append(out, "  signature: "+s.Signature)
	case KindSysupdate:
		out = append(out, r.Sysupdate.lines()...)
	default:
		what := r.Compression + " disk image"
		if r.Size > 0 {
			what += fmt.Sprintf(", %s", media.HumanIEC(r.Size))
		}
		table := strings.ToUpper(r.Table)
		if r.HybridMBR {
			table += " with a hybrid MBR"
		}
		out = append(out, what+", partition table: "+table)
		for _, p := range r.Partitions {
			fs := p.FS
			if fs == "" {
				fs = "no file system recognised"
			}
			if p.FSLabel != "" {
				fs += fmt.Sprintf(" %q", p.FSLabel)
			}
			label := ""
			if p.Label != "" {
				label = fmt.Sprintf(" %q", p.Label)
			}
			out = append(out, fmt.Sprintf("  %d%s: %s, %s", p.Index, label, media.HumanIEC(p.Size), fs))
		}
		if r.FS != "" {
			out = append(out, fmt.Sprintf("  whole image: %s %q", r.FS, r.FSLabel))
		}
		if len(r.Boot) == 0 {
			out = append(out, "  boot: nothing recognised")
		}
		for _, b := range r.Boot {
			out = append(out, "  boot: "+b.String())
		}
		if r.Sysupdate != nil {
			out = append(out, r.Sysupdate.lines()...)
		}
	}
	for _, p := range r.Problems {
		out = append(out, fmt.Sprintf("PROBLEM (%s): %s", p.Entry, p.What))
	}
	return out
}

// Brief is the summary in two lines, for the write confirmation (the
// full one is jetup inspect's).
func (r *Report) Brief() []string {
	var parts []string
	for _, p := range r.Partitions {
		fs := p.FS
		if fs == "" {
			fs = "?"
		}
		if p.FSLabel != "" {
			fs += fmt.Sprintf(" %q", p.FSLabel)
		} else if p.Label != "" {
			fs += fmt.Sprintf(" %q", p.Label)
		}
		parts = append(parts, fs)
	}
	if r.FS != "" && len(parts) <= 1 {
		parts = []string{fmt.Sprintf("%s %q", r.FS, r.FSLabel)}
	}
	table := strings.ToUpper(r.Table)
	if r.HybridMBR {
		table += "+hybrid MBR"
	}
	var boots []string
	for _, b := range r.Boot {
		s := b.Kind
		switch {
		case len(b.Models) > 0:
			s += " (" + strings.Join(b.Models, ", ") + ")"
		case b.Version != "":
			s += " " + b.Version
		}
		boots = appendNew(boots, s)
	}
	out := []string{fmt.Sprintf("Image: %s, %s", table, strings.Join(parts, ", ")),
		"Boots with: " + orDash(strings.Join(boots, ", "))}
	for _, p := range r.Problems {
		out = append(out, fmt.Sprintf("Image problem (%s): %s", p.Entry, p.What))
	}
	return out
}

func (b Boot) String() string {
	s := b.Kind
	if b.Path != "" {
		s += " " + b.Path
	}
	var more []string
	if len(b.Models) > 0 {
		more = append(more, "boots "+strings.Join(b.Models, ", "))
	}
	for _, x := range []string{b.Arch, b.Version, b.Detail} {
		if x != "" {
			more = append(more, x)
		}
	}
	if len(more) > 0 {
		s += " (" + strings.Join(more, "; ") + ")"
	}
	if b.Partition > 0 {
		s += fmt.Sprintf(" on partition %d", b.Partition)
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
