package media

import (
	"fmt"
	"strings"

	"github.com/jetup/jetup/step"
)

// Cause ids of the safety rules. They are an interface: --json output and
// run records carry them.
const (
	CauseSystemDisk = "system-disk"
	CauseImageDisk  = "image-disk"
	CauseReadOnly   = "read-only"
	CauseNoMedia    = "no-media"
	CauseHeld       = "held"
	CauseFixed      = "fixed-disk"
	CauseTooSmall   = "too-small"
	CauseMounted    = "mounted"
)

// Constraints are what the rules weigh besides the disk itself.
type Constraints struct {
	// ImageSize is the uncompressed image size; 0 when not known.
	ImageSize int64
	// ImagePath and ImageDevs name the image file and the maj:min of the
	// file systems holding it (and its .bmap): those disks are refused.
	ImagePath string
	ImageDevs []string
	// AllowFixed lets non-USB/MMC, non-removable disks and loop devices
	// through (--allow-fixed).
	AllowFixed bool
}

// Reason is one rule a disk breaks, with what to do about it.
type Reason struct {
	Cause string `json:"cause"`
	What  string `json:"what"`
	Next  string `json:"next"`
	// Consent is true when the person lifts the rule by agreeing (to
	// unmount the disk's partitions); every other reason is a refusal.
	Consent bool `json:"consent,omitempty"`
}

// Error turns the reason into the step's refusal (exit 2).
func (r Reason) Error() *step.Error {
	return step.Refuse(r.Cause, r.Next, "%s", r.What)
}

// systemMount reports whether a mount point belongs to the running system.
func systemMount(point string) bool {
	for _, p := range []string{"/", "/boot", "/efi", "/nix", "/usr", "/var", "/home", "/etc", "/opt", "/srv", "/root"} {
		if point == p || (p != "/" && strings.HasPrefix(point, p+"/")) {
			return true
		}
	}
	return false
}

// Check applies every safety rule to d, in the order a person would want to
// hear them. No reasons means d may be written.
func Check(d *Disk, c Constraints) []Reason {
	var out []Reason
	var sys []string
	for _, m := range d.Mounts {
		if systemMount(m.Point) {
			sys = append(sys, m.Point+" on "+m.Device)
		}
	}
	for _, s := range d.Swap {
		sys = append(sys, "swap on "+s)
	}
	if len(sys) > 0 {
		out = append(out, Reason{Cause: CauseSystemDisk,
			What: fmt.Sprintf("%s is this computer's system disk (%s); jetup never writes to it", d.Path, strings.Join(sys, ", ")),
			Next: "pick the USB stick or SD card instead: `jetup write --list` shows the candidates"})
	}
	for _, dev := range c.ImageDevs {
		if d.Holds(dev) {
			out = append(out, Reason{Cause: CauseImageDisk,
				What: fmt.Sprintf("%s holds the image file %s: writing it would destroy the image while it is read", d.Path, c.ImagePath),
				Next: "pick another disk, or copy the image to this computer's own disk first"})
			break
		}
	}
	if d.ReadOnly {
		out = append(out, Reason{Cause: CauseReadOnly,
			What: fmt.Sprintf("%s is write-protected", d.Path),
			Next: "slide the SD card's lock switch to unlocked (away from LOCK) and insert it again"})
	}
	if d.Size == 0 {
		out = append(out, Reason{Cause: CauseNoMedia,
			What: fmt.Sprintf("%s has no medium (an empty card reader?)", d.Path),
			Next: "insert the SD card, or pick another disk"})
	}
	if len(d.Holders) > 0 {
		out = append(out, Reason{Cause: CauseHeld,
			What: fmt.Sprintf("%s is in use by %s (device-mapper, LVM, RAID or encryption on top of it)", d.Path, strings.Join(d.Holders, ", ")),
			Next: "stop what uses it first (`dmsetup ls`, `vgchange -an`, `cryptsetup close`, `mdadm --stop`), or pick another disk"})
	}
	if d.Fixed() && !c.AllowFixed {
		kind := string(d.Transport) + ", not removable"
		if d.Transport == Loop {
			kind = "a loop device"
		}
		out = append(out, Reason{Cause: CauseFixed,
			What: fmt.Sprintf("%s is not a USB stick or SD card (%s)", d.Path, kind),
			Next: "pass --allow-fixed if you really mean to erase this disk"})
	}
	if c.ImageSize > 0 && d.Size > 0 && d.Size < c.ImageSize {
		out = append(out, Reason{Cause: CauseTooSmall,
			What: fmt.Sprintf("%s is %s, the image needs %s", d.Path, HumanBytes(d.Size), HumanBytes(c.ImageSize)),
			Next: fmt.Sprintf("use a stick or card of at least %s", HumanBytes(c.ImageSize))})
	}
	if len(sys) == 0 && len(d.Mounts) > 0 {
		var ms []string
		for _, m := range d.Mounts {
			ms = append(ms, m.Device+" on "+m.Point)
		}
		out = append(out, Reason{Cause: CauseMounted, Consent: true,
			What: fmt.Sprintf("%s has mounted partitions (%s)", d.Path, strings.Join(ms, ", ")),
			Next: "let jetup unmount them (answer yes, or pass --unmount), or unmount them yourself"})
	}
	return out
}

// Blocking returns the reasons no consent can lift.
func Blocking(rs []Reason) []Reason {
	var out []Reason
	for _, r := range rs {
		if !r.Consent {
			out = append(out, r)
		}
	}
	return out
}
