package detect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"time"

	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
)

// Options tune the classification.
type Options struct {
	// Profile is the board the person picked; nil when unknown (no module
	// check).
	Profile *profiles.Profile
	// Profiles are all known profiles, to name the ones that fit a board
	// whose module differs from Profile's.
	Profiles []*profiles.Profile
}

// Note is a debug note: a device skipped or a fallback taken. Headless
// commands write notes to the step log; its Text starts with "debug: ".
type Note struct {
	At   time.Time `json:"at"`
	Note string    `json:"note"`
}

// Text is the note for a log.
func (n Note) Text() string { return "debug: " + n.Note }

// noteTo turns Notef calls into Note events.
func noteTo(sink step.Sink) Notef {
	return func(format string, args ...any) {
		sink.Emit(Note{At: time.Now(), Note: fmt.Sprintf(format, args...)})
	}
}

// Scan lists the USB devices once and returns the Jetson-related ones,
// classified, with their warnings, in port order. Other devices are left
// out. Notes go to sink. The error (a *step.Error) means nothing could be
// listed at all.
func Scan(ctx context.Context, l Lister, opt Options, sink step.Sink) ([]Device, error) {
	if sink == nil {
		sink = step.Discard
	}
	recs, err := l.List(ctx, noteTo(sink))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &step.Error{Cause: "usb-list", What: "cannot list the USB devices", Err: err,
			Next: "check that /sys is mounted (`ls /sys/bus/usb/devices`) and run `jetup doctor`; `jetup detect --sysfs /sys` lists without libusb"}
	}
	return Classify(recs, l.Access, opt), nil
}

// Classify keeps the Jetson-related records, names them from the module
// table and adds the warnings. access checks a device node (Lister.Access);
// nil skips the check.
func Classify(recs []Record, access func(Record) error, opt Options) []Device {
	devs := []Device{} // never null in JSON
	for _, r := range recs {
		m, ok := Lookup(r)
		if !ok {
			continue
		}
		d := Device{
			USBInstance: r.Instance(), VendorID: fmt.Sprintf("%04x", r.Vendor), ProductID: fmt.Sprintf("%04x", r.Product),
			Mode: m.Mode, Module: m.Name, SoM: m.SoM, Speed: r.SpeedMbps, Warnings: []Warning{},
			Node: r.Node(), Manufacturer: r.Manufacturer, Product: r.ProductName, Serial: r.Serial,
			Fits: m.Fits, CannotTell: m.CannotTell, Note: m.Note,
		}
		if d.Mode == Recovery {
			d.Profiles = fittingProfiles(opt.Profiles, d.ID())
		}
		d.Warnings = append(d.Warnings, deviceWarnings(d, r, m, access, opt)...)
		devs = append(devs, d)
	}
	sort.SliceStable(devs, func(i, j int) bool { return instanceLess(devs[i].USBInstance, devs[j].USBInstance) })
	if boards := Boards(devs); len(boards) > 1 {
		w := severalWarning(boards)
		for i := range devs {
			if devs[i].Mode == Recovery {
				devs[i].Warnings = append(devs[i].Warnings, w)
			}
		}
	}
	return devs
}

// deviceWarnings are the warnings a device earns on its own, the most
// important first: the wrong board, then one jetup cannot flash, then the
// link and the permissions.
func deviceWarnings(d Device, r Record, m Module, access func(Record) error, opt Options) []Warning {
	var ws []Warning
	if p := opt.Profile; d.Mode == Recovery && p != nil && p.Recovery != nil {
		if _, ok := p.RecoveryModule(d.ProductID); !ok {
			ws = append(ws, mismatchWarning(d, p))
		}
	}
	if d.Mode == Recovery && m.SoM == "" {
		ws = append(ws, Warning{ID: WarnUnsupported, Warning: d.Module + ": " + m.Note,
			Next: "flash it with NVIDIA's SDK Manager or an L4T release for JetPack 4"})
	}
	if (d.Mode == Recovery || d.Mode == FlashGadget) && d.Speed > 0 && d.Speed < 480 {
		ws = append(ws, Warning{ID: WarnSlowLink,
			Warning: fmt.Sprintf("linked at %s, not high speed (480 Mb/s): the cable or a hub is limiting it", d.SpeedText()),
			Next:    "connect the board straight to this computer with a known-good data cable (USB-C to USB-C if you can), then enter recovery mode again: at full speed the flash is slow and often times out"})
	}
	if access != nil && (d.Mode == Recovery || d.Mode == DebugMCU) {
		if err := access(r); err != nil {
			ws = append(ws, accessWarning(d.Node, err))
		}
	}
	return ws
}

func accessWarning(node string, err error) Warning {
	if errors.Is(err, fs.ErrNotExist) {
		return Warning{ID: WarnNoAccess, Warning: "device node " + node + " does not exist",
			Next: "this host has no /dev/bus/usb (a container, or no udev?): flash from a host with udev, or pass /dev/bus/usb into the container"}
	}
	return Warning{ID: WarnNoAccess, Warning: "device node " + node + " is not accessible to this user",
		Next: "run `jetup doctor --fix` (it installs the udev rule for NVIDIA devices), then unplug and replug the board; flashing itself runs as root and still works"}
}

func mismatchWarning(d Device, p *profiles.Profile) Warning {
	w := Warning{ID: WarnOtherModule}
	som := d.SoM
	if som == "" {
		som = "a module jetpack-nixos does not support"
	}
	w.Warning = fmt.Sprintf("this board is %s (%s), but profile %s is for %s", d.Module, som, p.Name, p.SoM)
	var others []string
	for _, n := range d.Profiles {
		if n != p.Name {
			others = append(others, n)
		}
	}
	if len(others) > 0 {
		w.Next = "switch profile to one for this module: " + strings.Join(others, ", ") + " (`jetup --profile NAME`)"
	} else {
		w.Next = "no profile knows " + d.ID() + ": check the board on the bench, or add a profile for it (`jetup profiles` lists them)"
	}
	return w
}

func severalWarning(boards []Device) Warning {
	list := make([]string, len(boards))
	for i, b := range boards {
		list[i] = b.USBInstance + " " + b.Module
	}
	return Warning{ID: WarnSeveral,
		Warning: fmt.Sprintf("%d boards are in recovery mode: %s", len(boards), strings.Join(list, ", ")),
		Next:    "choose one: its usb_instance goes to the flash step (jetup flash --usb-instance " + boards[0].USBInstance + "), or unplug the others"}
}

// fittingProfiles names the profiles whose recovery ids include id.
func fittingProfiles(ps []*profiles.Profile, id string) []string {
	var out []string
	for _, p := range ps {
		if p.Recovery == nil {
			continue
		}
		for _, u := range p.Recovery.USBIDs {
			if strings.EqualFold(u.ID, id) {
				out = append(out, p.Name)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// instanceLess orders "1-2" < "1-10" < "1-10.1" < "2-1": by bus, then port
// by port.
func instanceLess(a, b string) bool {
	ab, ap, _ := parseInstance(a)
	bb, bp, _ := parseInstance(b)
	if ab != bb {
		return ab < bb
	}
	x, _ := parsePath(ap)
	y, _ := parsePath(bp)
	for i := 0; i < len(x) && i < len(y); i++ {
		if x[i] != y[i] {
			return x[i] < y[i]
		}
	}
	return len(x) < len(y)
}
