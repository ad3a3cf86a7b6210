package doctor

import (
	"context"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/jetup/jetup/step"
)

// healthy is a host where every check passes, for a non-root user.
func healthy() *MemHost {
	return &MemHost{
		Arch: "x86_64",
		Files: map[string]string{
			"/etc/nix/nix.conf":                         "experimental-features = nix-command flakes\nextra-platforms = aarch64-linux\n",
			binfmtDir + "/qemu-aarch64":                 qemuAArch64,
			"/usr/lib/x86_64-linux-gnu/libusb-1.0.so.0": "",
			"/etc/udev/rules.d/70-jetup.rules":          `SUBSYSTEM=="usb", ATTR{idVendor}=="0955", TAG+="uaccess"` + "\nID_MM_DEVICE_IGNORE\n",
			autosuspendFile:                             "-1\n",
			"/etc/group":                                "root:x:0:\ndialout:x:20:ana\n",
		},
		Commands: map[string]string{"/usr/bin/nix --version": "nix (Nix) 2.8.0\n"},
		Paths:    map[string]string{"nix": "/usr/bin/nix", "sudo": "/usr/bin/sudo"},
		Free:     map[string]uint64{"/nix": 100 << 30},
		Usr:      User{Name: "ana", UID: 1000, Home: "/home/ana", Groups: []string{"ana", "dialout"}},
	}
}

func run(t *testing.T, h *MemHost, fix bool) Report {
	t.Helper()
	var events []step.Event
	rep, err := Run(context.Background(), h, Options{Fix: fix}, step.SinkFunc(func(e step.Event) { events = append(events, e) }))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != len(checks) || len(rep.Findings) != len(checks) {
		t.Fatalf("%d events, %d findings, want %d each", len(events), len(rep.Findings), len(checks))
	}
	return rep
}

func find(t *testing.T, rep Report, id string) Finding {
	t.Helper()
	f, ok := rep.Find(id)
	if !ok {
		t.Fatalf("no finding %s", id)
	}
	return f
}

func TestHealthyHostIsReady(t *testing.T) {
	rep := run(t, healthy(), false)
	for _, f := range rep.Findings {
		if f.Status != OK {
			t.Errorf("%s: %s %s (%s)", f.ID, f.Status, f.Detail, f.Next)
		}
	}
	if !rep.ReadyToFlash {
		t.Error("healthy host not ready to flash")
	}
}

func TestEachMiss(t *testing.T) {
	cases := []struct {
		id     string
		breakf func(h *MemHost)
		status Status
		blocks bool
		next   string
	}{
		{"arch", func(h *MemHost) { h.Arch = "aarch64" }, Fail, true, "x86_64"},
		{"nix", func(h *MemHost) { delete(h.Paths, "nix") }, Fail, true, "install Nix"},
		{"nix", func(h *MemHost) { delete(h.Commands, "/usr/bin/nix --version") }, Fail, true, "repair"},
		{"nix-features", func(h *MemHost) {
			h.Files["/etc/nix/nix.conf"] = "experimental-features = nix-command\nextra-platforms = aarch64-linux\n"
		}, Warn, false, "flakes"},
		{"sudo", func(h *MemHost) { delete(h.Paths, "sudo") }, Fail, true, "install sudo"},
		{"libusb", func(h *MemHost) { delete(h.Files, "/usr/lib/x86_64-linux-gnu/libusb-1.0.so.0") }, Warn, false, "libusb-1.0-0"},
		{"udev-rule", func(h *MemHost) { delete(h.Files, "/etc/udev/rules.d/70-jetup.rules") }, Warn, false, "doctor --fix"},
		{"udev-rule", func(h *MemHost) {
			h.Files["/etc/udev/rules.d/70-jetup.rules"] = `# SUBSYSTEM=="usb", ATTR{idVendor}=="0955", TAG+="uaccess"`
		}, Warn, false, "doctor --fix"},
		{"autosuspend", func(h *MemHost) { h.Files[autosuspendFile] = "2\n" }, Warn, false, "turns it off"},
		{"modemmanager", func(h *MemHost) {
			h.Procs = []string{"ModemManager"}
			h.Files["/etc/udev/rules.d/70-jetup.rules"] = `ATTR{idVendor}=="0955", TAG+="uaccess"`
		}, Warn, false, "systemctl stop ModemManager"},
		{"tlp", func(h *MemHost) { h.Paths["tlp"] = "/usr/sbin/tlp" }, Warn, false, "USB_AUTOSUSPEND=0"},
		{"serial-group", func(h *MemHost) { h.Usr.Groups = []string{"ana"} }, Warn, false, "usermod -aG dialout ana"},
		{"serial-group", func(h *MemHost) { h.Usr.Groups = nil; h.Files["/etc/group"] = "uucp:x:14:\n" }, Warn, false, "usermod -aG uucp ana"},
		{"nix-space", func(h *MemHost) { h.Free["/nix"] = 10 << 30 }, Warn, false, "40 GiB"},
		{"nix-space", func(h *MemHost) { h.Free = map[string]uint64{"/": 1 << 30} }, Fail, false, "nix-collect-garbage"},
		{"aarch64-builder", func(h *MemHost) { delete(h.Files, binfmtDir+"/qemu-aarch64") }, Warn, false, "boot.binfmt.emulatedSystems"},
	}
	for _, c := range cases {
		t.Run(c.id+"/"+c.next, func(t *testing.T) {
			h := healthy()
			c.breakf(h)
			rep := run(t, h, false)
			f := find(t, rep, c.id)
			if f.Status != c.status || f.BlocksFlashing != c.blocks {
				t.Errorf("status %s blocks %v, want %s %v (%s)", f.Status, f.BlocksFlashing, c.status, c.blocks, f.Detail)
			}
			if !strings.Contains(f.Next, c.next) {
				t.Errorf("next %q does not say %q", f.Next, c.next)
			}
			if rep.ReadyToFlash == c.blocks {
				t.Errorf("ReadyToFlash %v with a blocking=%v miss", rep.ReadyToFlash, c.blocks)
			}
			for _, other := range rep.Findings {
				if other.ID != c.id && other.Status != OK && !(c.id == "udev-rule" && other.ID == "modemmanager") {
					t.Errorf("breaking %s also broke %s: %s", c.id, other.ID, other.Detail)
				}
			}
		})
	}
}

func TestNixConfigLayers(t *testing.T) {
	h := healthy()
	h.Files["/etc/nix/nix.conf"] = "experimental-features = nix-command\n"
	h.Files["/home/ana/.config/nix/nix.conf"] = "extra-experimental-features = flakes # for jetpack-nixos\n"
	if f := find(t, run(t, h, false), "nix-features"); f.Status != OK {
		t.Errorf("user extra-experimental-features not added: %s", f.Detail)
	}
	h.Files["/home/ana/.config/nix/nix.conf"] = "experimental-features = ca-derivations\n"
	if f := find(t, run(t, h, false), "nix-features"); f.Status != Warn {
		t.Errorf("user experimental-features must replace the system list: %s", f.Detail)
	}
	h.Env = map[string]string{"NIX_CONFIG": "extra-experimental-features = nix-command flakes"}
	if f := find(t, run(t, h, false), "nix-features"); f.Status != OK {
		t.Errorf("NIX_CONFIG ignored: %s", f.Detail)
	}
}

func TestFixUsesSudoOnlyForRootWork(t *testing.T) {
	h := healthy()
	delete(h.Files, "/etc/udev/rules.d/70-jetup.rules")
	h.Usr.Groups = []string{"ana"}
	h.Files["/etc/nix/nix.conf"] = ""
	h.Commands["sudo udevadm control --reload-rules"] = ""
	h.Commands["sudo udevadm trigger --subsystem-match=usb --attr-match=idVendor=0955"] = ""
	h.Commands["mkdir -p /home/ana/.config/nix"] = ""
	rep := run(t, h, true)
	for _, id := range []string{"udev-rule", "serial-group", "nix-features"} {
		f := find(t, rep, id)
		if f.Status != OK || f.Fixed == "" {
			t.Errorf("%s not fixed: %s %s fixed=%q err=%q", id, f.Status, f.Detail, f.Fixed, f.FixError)
		}
	}
	ran := strings.Join(h.Ran, "\n")
	for _, want := range []string{"sudo tee /etc/udev/rules.d/70-jetup.rules", "sudo usermod -aG dialout ana", "\ntee -a /home/ana/.config/nix/nix.conf"} {
		if !strings.Contains("\n"+ran, want) {
			t.Errorf("ran:\n%s\nwant %q", ran, want)
		}
	}
	if strings.Contains(ran, "sudo tee -a /home") || strings.Contains(ran, "sudo mkdir") {
		t.Errorf("user-level fix ran as root:\n%s", ran)
	}
	if !strings.Contains(h.Files["/etc/udev/rules.d/70-jetup.rules"], `ATTR{idVendor}=="0955"`) {
		t.Error("rule content not the embedded rule")
	}
}

func TestFixFailureIsReported(t *testing.T) {
	h := healthy()
	h.Usr.Groups = nil
	h.Fails = map[string]string{"sudo usermod -aG dialout ana": "sudo: a password is required"}
	f := find(t, run(t, h, true), "serial-group")
	if !strings.Contains(f.FixError, "password is required") || f.Status != Warn || f.Fixed != "" {
		t.Errorf("failed fix not reported: %+v", f)
	}
	if !strings.Contains(f.Text(), "fix failed: sudo usermod") {
		t.Errorf("text does not show the failed fix: %s", f.Text())
	}
}

func TestRootNeedsNoSudo(t *testing.T) {
	h := healthy()
	h.Usr = User{Name: "root", UID: 0, Home: "/root"}
	delete(h.Paths, "sudo")
	delete(h.Files, "/etc/udev/rules.d/70-jetup.rules")
	rep := run(t, h, false)
	for _, id := range []string{"sudo", "serial-group", "udev-rule"} {
		if f := find(t, rep, id); f.Status != OK {
			t.Errorf("root: %s is %s (%s)", id, f.Status, f.Detail)
		}
	}
}

// The real host: every check runs and says something; the architecture is
// what uname says.
func TestRealHost(t *testing.T) {
	rep, err := Run(context.Background(), OSHost{}, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != len(checks) {
		t.Fatalf("%d findings", len(rep.Findings))
	}
	out, err := exec.Command("uname", "-m").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := find(t, rep, "arch").Detail; got != strings.TrimSpace(string(out)) {
		t.Errorf("arch %q, uname says %q", got, out)
	}
	for _, f := range rep.Findings {
		if f.Detail == "" {
			t.Errorf("%s has no detail", f.ID)
		}
		if f.Status != OK && f.Next == "" && f.ID != "libusb" {
			t.Errorf("%s is %s without a next step", f.ID, f.Status)
		}
	}
	if runtime.GOARCH == "amd64" && find(t, rep, "arch").Status != OK {
		t.Error("x86_64 host reported as unsupported")
	}
}

// A check handed in (the field kit of --profile) is reported after the
// host's own, as an event and a finding; a failure that blocks flashing
// makes the host not ready, a warning does not.
func TestMoreChecksAreReported(t *testing.T) {
	for _, c := range []struct {
		f     Finding
		ready bool
	}{
		{Finding{ID: "field-kit", Title: "field kit", Status: Warn, Detail: "kit k is stale"}, true},
		{Finding{ID: "field-kit", Title: "field kit", Status: Fail, Detail: "no kit; offline", BlocksFlashing: true}, false},
	} {
		var events []step.Event
		more := func(context.Context) Finding { return c.f }
		rep, err := Run(context.Background(), healthy(), Options{More: []func(context.Context) Finding{more}},
			step.SinkFunc(func(e step.Event) { events = append(events, e) }))
		if err != nil {
			t.Fatal(err)
		}
		last, ok := events[len(events)-1].(Finding)
		if len(rep.Findings) != len(checks)+1 || !ok || last.ID != "field-kit" || rep.ReadyToFlash != c.ready {
			t.Errorf("%+v: %d findings, last event %+v, ready %v", c.f, len(rep.Findings), last, rep.ReadyToFlash)
		}
	}
}
