package profiles

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

var (
	nameRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	usbIDRe = regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{4}$`)
	// devGlobRe is a device node path or glob: the verify step's board
	// shell expands it unquoted, so nothing else may be in it.
	devGlobRe = regexp.MustCompile(`^/dev/[A-Za-z0-9_./*?\[\]-]+$`)
)

// StepIDs are the steps a profile may list.
var StepIDs = []step.ID{step.Detect, step.Flash, step.Console, step.Write, step.Push, step.Verify}

// Controls are the recovery drawings the TUI knows.
var Controls = []string{"j14-header", "agx-orin-buttons", "agx-xavier-buttons", "thor-buttons", "none"}

// validator collects errors, each at the line of the key it is about (or of
// the nearest enclosing key when the key itself is missing).
type validator struct {
	file  string
	lines map[string]int
	errs  []error
}

func (v *validator) fail(path, format string, args ...any) {
	line := 0
	for p := path; ; {
		if l, ok := v.lines[p]; ok {
			line = l
			break
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			line = v.lines[""]
			break
		}
		p = p[:i]
	}
	v.errs = append(v.errs, &FileError{File: v.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) required(path, value string) {
	if strings.TrimSpace(value) == "" {
		v.fail(path, "missing %s", path)
	}
}

func (v *validator) usbIDs(path string, ids []USBID, vendor string) {
	for i, u := range ids {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case !usbIDRe.MatchString(u.ID):
			v.fail(p+".id", "bad USB id %q in %s: write vendor:product as 4 lowercase hex digits each, like 0955:7523", u.ID, path)
		case vendor != "" && u.Vendor() != vendor:
			v.fail(p+".id", "USB id %q in %s is not an NVIDIA id (vendor must be %s)", u.ID, path, vendor)
		}
		v.required(p+".name", u.Name)
	}
}

func validate(p *Profile, file string, lines map[string]int) []error {
	v := &validator{file: file, lines: lines}
	v.required("name", p.Name)
	if p.Name != "" && !nameRe.MatchString(p.Name) {
		v.fail("name", "bad name %q: use lowercase letters, digits and dashes", p.Name)
	}
	v.required("title", p.Title)
	switch p.Family {
	case Jetson:
		v.required("som", p.SoM)
		v.required("carrier_board", p.CarrierBoard)
		if p.JetPack < 5 || p.JetPack > 7 {
			v.fail("jetpack", "jetpack must be 5, 6 or 7 for a Jetson (got %d)", p.JetPack)
		}
	case RaspberryPi:
	case "":
		v.fail("family", "missing family (jetson or raspberry-pi)")
	default:
		v.fail("family", "unknown family %q (jetson or raspberry-pi)", p.Family)
	}

	if len(p.Steps) == 0 {
		v.fail("steps", "missing steps (some of: %s)", stepNames())
	}
	seen := map[step.ID]bool{}
	for i, s := range p.Steps {
		path := fmt.Sprintf("steps[%d]", i)
		if !validStep(s) {
			v.fail(path, "unknown step %q (known: %s)", s, stepNames())
		}
		if seen[s] {
			v.fail(path, "step %q listed twice", s)
		}
		seen[s] = true
	}
	if p.Family == RaspberryPi && (seen[step.Detect] || seen[step.Flash]) {
		v.fail("steps", "a Raspberry Pi has no recovery or flash step")
	}

	if seen[step.Detect] || seen[step.Flash] {
		if p.Recovery == nil {
			v.fail("recovery", "missing recovery: the detect and flash steps need the recovery-mode USB ids")
		}
	}
	if r := p.Recovery; r != nil {
		if len(r.USBIDs) == 0 {
			v.fail("recovery.usb_ids", "missing recovery.usb_ids: list the ids the board shows in recovery mode (0955:xxxx)")
		}
		v.usbIDs("recovery.usb_ids", r.USBIDs, "0955")
		if len(r.Procedure) == 0 {
			v.fail("recovery.procedure", "missing recovery.procedure: the steps that put the board in recovery mode")
		}
		v.required("recovery.port", r.Port)
		if !contains(Controls, r.Controls) {
			v.fail("recovery.controls", "unknown recovery.controls %q (known: %s)", r.Controls, strings.Join(Controls, ", "))
		}
	}

	if seen[step.Flash] && p.Flash == nil {
		v.fail("flash", "missing flash: the flash step needs the flake and attribute of the flash script")
	}
	if f := p.Flash; f != nil {
		v.required("flash.flake", f.Flake)
		v.required("flash.attribute", f.Attribute)
		if f.Attribute != "" {
			// It names the build's GC root under the state dir.
			if err := safe.Name("flash.attribute", f.Attribute); err != nil {
				v.fail("flash.attribute", "%v", err)
			}
		}
		v.required("flash.script", f.Script)
	}

	v.required("console.connection", p.Console.Connection)
	if p.Console.Baud <= 0 {
		v.fail("console.baud", "missing console.baud (the Jetson and Pi consoles run at 115200)")
	}
	v.usbIDs("console.bridges", p.Console.Bridges, "")

	in := p.Installer
	switch in.Kind {
	case "iso", "sd-image":
	case "":
		v.fail("installer.kind", "missing installer.kind (iso or sd-image)")
	default:
		v.fail("installer.kind", "unknown installer.kind %q (iso or sd-image)", in.Kind)
	}
	v.required("installer.flake", in.Flake)
	v.required("installer.attribute", in.Attribute)
	v.required("installer.output", in.Output)
	if vf := p.Verify; vf != nil {
		if p.Family != Jetson {
			v.fail("verify", "verify.gpu_devices are for Jetson profiles")
		}
		v.required("verify.soc", vf.SoC)
		if vf.SoC != "" && !regexp.MustCompile(`^tegra[0-9]+$`).MatchString(vf.SoC) {
			v.fail("verify.soc", "bad verify.soc %q: the chip as the device tree names it, like tegra234", vf.SoC)
		}
		v.required("verify.gpu", vf.GPU)
		v.required("verify.gpu_driver", vf.GPUDriver)
		if len(vf.GPUDevices) == 0 {
			v.fail("verify.gpu_devices", "missing verify.gpu_devices: the GPU device nodes under /dev")
		}
		for i, d := range vf.GPUDevices {
			if !devGlobRe.MatchString(d) || strings.Contains(d, "..") {
				v.fail(fmt.Sprintf("verify.gpu_devices[%d]", i), "bad device %q: a path or glob under /dev (letters, digits, / . _ - * ? [ ])", d)
			}
		}
		if strings.ContainsAny(vf.CUDASample, "\n\x00") {
			v.fail("verify.cuda_sample", "verify.cuda_sample must be one line")
		}
	}
	return v.errs
}

func validStep(s step.ID) bool {
	for _, id := range StepIDs {
		if id == s {
			return true
		}
	}
	return false
}

func stepNames() string {
	s := make([]string, len(StepIDs))
	for i, id := range StepIDs {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
