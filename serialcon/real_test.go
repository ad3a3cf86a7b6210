package serialcon

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// realCaptures is what the console should recognise in each real capture
// in testdata/real (forum and issue pastes, most of them starting in the
// middle of a boot; each names its source on top).
var realCaptures = map[string]struct {
	stages   []string
	facts    map[string]string
	findings []string
}{
	"oe4t-meta-tegra-1215-agx-orin-l4tlauncher-extlinux-fallback.txt": {[]string{StageUEFI, StageKernel}, nil, []string{FindingExtlinuxFallback}},
	"blexi-orin-l4tlauncher-extlinux-not-found.txt":                   {[]string{StageUEFI}, nil, []string{FindingExtlinuxFallback}},
	"oe4t-meta-tegra-998-agx-xavier-uefi-r34-initrd-failed.txt": {[]string{StageUEFI, StageUEFIMenu, StageKernel},
		map[string]string{FactFirmwareVersion: "r34.1-975eef6"}, []string{FindingExtlinuxFallback, FindingInitrdLoadFailed}},
	"jetpack-nixos-111-orin-nx-efi-stub-invalid-fdt.txt": {[]string{StageUEFI, StageKernel}, nil, []string{FindingFDTInvalid}},
	"oe4t-tegra-demo-distro-344-orin-nano-super-rcm-kernel-panic.txt": {[]string{StageUEFI, StageKernel},
		map[string]string{FactModel: "NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super"}, []string{FindingKernelPanic}},
	"oe4t-meta-tegra-2310-thor-t5000-stuck-in-mb2.txt":       {[]string{StageMB2}, nil, nil},
	"balena-jetson-flash-129-orin-nano-4gb-mb1.txt":          {[]string{StageMB1}, nil, nil},
	"antmicro-meta-antmicro-2-orin-nano-mb1-to-mb2.txt":      {[]string{StageMB1, StageMB2}, nil, nil},
	"antmicro-meta-antmicro-2-orin-nano-mb2-only.txt":        {[]string{StageMB2}, nil, nil},
	"nvidia-forum-142995-xavier-nx-mb1-no-bootable-slot.txt": {[]string{StageMB1}, nil, []string{FindingBootFirmwareError}},
	"nvidia-forum-153673-xavier-nx-custom-carrier-mb1.txt":   {[]string{StageMB1}, nil, nil},
	"edk2-nvidia-140-agx-xavier-nvdisp-init.txt":             {[]string{StageMB2}, nil, nil},
	"jetpack-nixos-96-agx-orin-uefi-banner-then-nothing.txt": {[]string{StageUEFI}, map[string]string{FactFirmwareVersion: "35.3.1"}, nil},
	"nvidia-forum-154551-tx2-mts-dram-alias-failure.txt":     {[]string{StageMB1}, nil, []string{FindingBootFirmwareError}},
	"nixpkgs-70320-rpi3-u-boot-extlinux.txt":                 {[]string{StageUBoot}, map[string]string{FactFirmwareVersion: "U-Boot 2018.07", FactModel: "RPI 3 Model B (0xa02082)"}, nil},
	"nixos-309-rpi1-u-boot-mid-boot.txt":                     {[]string{StageUBoot}, nil, nil},
	"nixpkgs-112677-rpi4-eeprom-bootloader.txt":              {[]string{StageFirmware}, map[string]string{FactFirmwareVersion: "23a9f59b (May 15 2020)"}, nil},
	"nixpkgs-350689-rpi4-uefi-efi-stub-stops.txt":            {[]string{StageKernel}, nil, nil},
}

// realCapture reads a capture without its "#" annotations, with the CRLF
// line ends a serial console sends.
func realCapture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte("# Source: http")) {
		t.Errorf("%s: the first line must name its source (# Source: URL)", path)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return []byte(strings.Join(out, "\r\n"))
}

func findingIDs(s Summary) []string {
	var ids []string
	for _, f := range s.Findings {
		ids = append(ids, f.Finding)
	}
	return ids
}

func TestRealCaptures(t *testing.T) {
	names, _ := filepath.Glob("testdata/real/*.txt")
	if len(names) == 0 {
		t.Fatal("no captures")
	}
	right := 0
	for _, path := range names {
		name := filepath.Base(path)
		w, ok := realCaptures[name]
		if !ok {
			t.Errorf("%s: no expectation: add one", name)
			continue
		}
		s := watchAll(realCapture(t, path))
		good := reflect.DeepEqual(stageIDs(s), w.stages) && reflect.DeepEqual(findingIDs(s), w.findings)
		for id, v := range w.facts {
			good = good && s.Last(id) == v
		}
		for _, f := range s.Findings {
			good = good && f.Next != "" && f.What != "" && f.Line != "" && f.Stage != ""
		}
		if !good {
			t.Errorf("%s:\n stages %v findings %v facts %+v\n want   %v findings %v facts %v", name, stageIDs(s), findingIDs(s), s.Facts, w.stages, w.findings, w.facts)
			continue
		}
		right++
	}
	t.Logf("real console captures: %d, recognised right: %d", len(names), right)
}
