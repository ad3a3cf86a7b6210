package serialcon

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jetup/jetup/profiles"
)

// PortInfo is one serial port the host has. Its JSON is the port list's
// format (`jetup console --list --json`).
type PortInfo struct {
	// Path is the device node (/dev/ttyACM0).
	Path string `json:"path"`
	// ByID is the stable /dev/serial/by-id name, when udev made one. It
	// survives re-enumeration, so reconnects prefer it.
	ByID string `json:"by_id,omitempty"`
	USB  bool   `json:"usb"`
	// VID and PID are lowercase hex ("0955", "7045").
	VID          string `json:"vid,omitempty"`
	PID          string `json:"pid,omitempty"`
	Serial       string `json:"serial,omitempty"`
	Manufacturer string `json:"manufacturer,omitempty"`
	Product      string `json:"product,omitempty"`
	// Interface is the USB interface number (a debug MCU or a quad bridge
	// has one port per interface); -1 when unknown.
	Interface int `json:"interface"`
	// Driver is the kernel driver (cdc_acm, ftdi_sio, cp210x, ch341, pl2303).
	Driver string `json:"driver,omitempty"`
}

// USBID is "vid:pid", or "" for a port that is not on USB.
func (p PortInfo) USBID() string {
	if !p.USB {
		return ""
	}
	return p.VID + ":" + p.PID
}

// Name is the name to show and to reopen: the by-id name when there is one.
func (p PortInfo) Name() string {
	if p.ByID != "" {
		return p.ByID
	}
	return p.Path
}

// sameDevice reports whether q is the same USB port as p (vid, pid, serial
// number and interface): how a port is found again after it re-enumerated
// under another name.
func (p PortInfo) sameDevice(q PortInfo) bool {
	return p.USB && q.USB && p.Serial != "" && strings.EqualFold(p.VID, q.VID) && strings.EqualFold(p.PID, q.PID) &&
		p.Serial == q.Serial && p.Interface == q.Interface
}

// Describe is one line for lists: name, ids, product.
func (p PortInfo) Describe() string {
	var b strings.Builder
	b.WriteString(p.Path)
	if p.USB {
		fmt.Fprintf(&b, "  %s", p.USBID())
		if p.Manufacturer != "" || p.Product != "" {
			fmt.Fprintf(&b, " %s", strings.TrimSpace(p.Manufacturer+" "+p.Product))
		}
		if p.Serial != "" {
			fmt.Fprintf(&b, " serial %s", p.Serial)
		}
		if p.Interface >= 0 {
			fmt.Fprintf(&b, " if%02d", p.Interface)
		}
	}
	if p.ByID != "" {
		fmt.Fprintf(&b, "  (%s)", p.ByID)
	}
	return b.String()
}

// flashGadget is the jetpack-nixos flash initrd's CDC-ACM gadget: it is how
// the flash script talks to the board while it writes, never the console.
const flashGadgetID = "1d6b:0104"

func isFlashGadget(p PortInfo) bool {
	return p.USBID() == flashGadgetID && (strings.EqualFold(p.Manufacturer, "NixOS") || strings.EqualFold(p.Product, "serial") ||
		strings.Contains(p.ByID, "NixOS_serial"))
}

// usbTTL are the USB-TTL adapter chips a devkit's UART header is usually
// wired through; a port on one of them is a likely console even when the
// profile does not list the chip (a custom carrier, an unusual adapter).
var usbTTL = map[string]string{
	"0403:6001": "FTDI FT232R", "0403:6015": "FTDI FT-X", "0403:6010": "FTDI FT2232", "0403:6011": "FTDI FT4232",
	"0403:6014": "FTDI FT232H", "10c4:ea60": "Silicon Labs CP210x", "1a86:7523": "WCH CH340", "1a86:55d4": "WCH CH9102",
	"067b:2303": "Prolific PL2303", "0955:7045": "NVIDIA devkit debug MCU",
}

// Candidate is a port ranked as the board's console.
type Candidate struct {
	Port  PortInfo `json:"port"`
	Score int      `json:"score"`
	// Why says in a few words why the port got its place.
	Why string `json:"why"`
	// Excluded ports are never picked (the flash gadget).
	Excluded bool `json:"excluded,omitempty"`
}

var devNumber = regexp.MustCompile(`(\d+)$`)

// Rank orders ports by how likely each is the profile's debug console,
// best first; excluded ports come last. A nil profile ranks by the known
// bridges of every Jetson devkit.
func Rank(ports []PortInfo, p *profiles.Profile) []Candidate {
	// Ports of one USB device (a debug MCU or a quad bridge has several),
	// in interface order, so "the first ACM port" can be told.
	siblings := map[string][]PortInfo{}
	for _, q := range ports {
		if q.USB {
			k := q.USBID() + "/" + q.Serial
			siblings[k] = append(siblings[k], q)
		}
	}
	for _, s := range siblings {
		sort.Slice(s, func(i, j int) bool {
			return s[i].Interface < s[j].Interface || s[i].Interface == s[j].Interface && s[i].Path < s[j].Path
		})
	}
	out := make([]Candidate, 0, len(ports))
	for _, q := range ports {
		out = append(out, rankOne(q, p, siblings[q.USBID()+"/"+q.Serial]))
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Excluded != out[j].Excluded {
			return !out[i].Excluded
		}
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].Port.Path < out[j].Port.Path
	})
	return out
}

func rankOne(q PortInfo, p *profiles.Profile, siblings []PortInfo) Candidate {
	c := Candidate{Port: q}
	if isFlashGadget(q) {
		c.Excluded, c.Why = true, "the jetpack-nixos flash gadget (1d6b:0104 NixOS serial): the flash script's link, not the console"
		return c
	}
	var why []string
	if q.USB {
		bridge := ""
		if p != nil {
			for _, b := range p.Console.Bridges {
				if strings.EqualFold(b.ID, q.USBID()) {
					bridge = b.Name
				}
			}
		}
		switch {
		case bridge != "":
			c.Score += 100
			why = append(why, fmt.Sprintf("%s (%s), the console bridge of %s", bridge, q.USBID(), p.Name))
		case usbTTL[q.USBID()] != "":
			c.Score += 40
			why = append(why, fmt.Sprintf("a %s serial adapter (%s)", usbTTL[q.USBID()], q.USBID()))
		case q.Driver == "cdc_acm" || strings.Contains(q.Path, "ttyACM"):
			c.Score += 10
			why = append(why, fmt.Sprintf("a USB serial port (%s %s)", q.USBID(), strings.TrimSpace(q.Manufacturer+" "+q.Product)))
		default:
			c.Score += 15
			why = append(why, fmt.Sprintf("a USB serial adapter (%s %s)", q.USBID(), strings.TrimSpace(q.Manufacturer+" "+q.Product)))
		}
		if pos, want, ok := wantedPosition(q, p, siblings); ok {
			if pos == want {
				c.Score += 20
				why = append(why, fmt.Sprintf("port %d of %d, where the console is", pos+1, len(siblings)))
			} else {
				why = append(why, fmt.Sprintf("port %d of %d (the console is port %d)", pos+1, len(siblings), want+1))
			}
		}
	} else {
		c.Score += 2
		why = append(why, "a built-in serial port (not USB): used only when named with --port")
	}
	if p != nil {
		for i, d := range p.Console.Devices {
			if d == q.Path && len(siblings) <= 1 {
				c.Score += 5 - min(i, 4)
				why = append(why, "the profile's usual device name")
				break
			}
		}
	}
	c.Why = strings.Join(why, ", ")
	return c
}

// wantedPosition says where q sits among its device's ports and where the
// profile's console is: the profile names the console by its usual device
// (/dev/ttyACM0 on the AGX Orin debug MCU: the first; /dev/ttyUSB3 on the
// AGX Xavier's FT4232: the last), and that number is the position among the
// device's ports when it is the only such adapter.
func wantedPosition(q PortInfo, p *profiles.Profile, siblings []PortInfo) (pos, want int, ok bool) {
	if p == nil || len(siblings) < 2 || len(p.Console.Devices) == 0 {
		return 0, 0, false
	}
	m := devNumber.FindStringSubmatch(p.Console.Devices[0])
	if m == nil {
		return 0, 0, false
	}
	want, _ = strconv.Atoi(m[1])
	if want >= len(siblings) {
		return 0, 0, false
	}
	for i, s := range siblings {
		if s.Path == q.Path {
			return i, want, true
		}
	}
	return 0, 0, false
}

// minAutoScore is the least a port needs to be picked without --port: any
// USB serial port has it; a built-in UART (ttyS0 on a PC) does not, since a
// board's console is almost never wired to one.
const minAutoScore = 10

// Best is the best candidate that may be picked, and how many others scored
// the same (the person should then choose with --port).
func Best(cands []Candidate) (best Candidate, ties int, ok bool) {
	for i, c := range cands {
		if c.Excluded || c.Score < minAutoScore {
			break
		}
		if i == 0 {
			best, ok = c, true
			continue
		}
		if c.Score == best.Score {
			ties++
		}
	}
	return best, ties, ok
}

// readSysfsUSB fills in what go.bug.st/serial's enumerator does not give:
// the USB interface number, the driver and the /dev/serial/by-id name.
// sysRoot and devRoot are "/sys" and "/dev" except in tests.
func readSysfsUSB(ports []PortInfo, sysRoot, devRoot string) {
	byID := map[string]string{}
	dir := filepath.Join(devRoot, "serial", "by-id")
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			link := filepath.Join(dir, e.Name())
			target, err := os.Readlink(link)
			if err != nil {
				continue
			}
			if !filepath.IsAbs(target) {
				target = filepath.Join(dir, target)
			}
			byID[filepath.Base(target)] = link
		}
	}
	for i := range ports {
		p := &ports[i]
		name := filepath.Base(p.Path)
		if l, ok := byID[name]; ok {
			p.ByID = filepath.Join("/dev/serial/by-id", filepath.Base(l))
			if devRoot != "/dev" {
				p.ByID = l
			}
		}
		p.Interface = -1
		dev, err := filepath.EvalSymlinks(filepath.Join(sysRoot, "class", "tty", name, "device"))
		if err != nil {
			continue
		}
		if drv, err := filepath.EvalSymlinks(filepath.Join(dev, "driver")); err == nil {
			p.Driver = filepath.Base(drv)
		}
		// cdc_acm: device is the interface; usb-serial: device is the
		// port, its parent the interface.
		for _, d := range []string{dev, filepath.Dir(dev)} {
			if b, err := os.ReadFile(filepath.Join(d, "bInterfaceNumber")); err == nil {
				if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 16, 32); err == nil {
					p.Interface = int(n)
				}
				break
			}
		}
	}
}
