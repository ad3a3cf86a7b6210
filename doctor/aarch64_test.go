package doctor

import (
	"context"
	"strings"
	"testing"
)

// qemuAArch64 is /proc/sys/fs/binfmt_misc/qemu-aarch64 after Debian's or
// Ubuntu's qemu-user-static registered it (as a user showed it in a
// public README: interpreter, flags, the aarch64 ELF magic and mask).
const qemuAArch64 = `enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: POF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
`

// nixosAArch64 is a NixOS registration (boot.binfmt.emulatedSystems): no
// F flag, the interpreter reached through nix's extra-sandbox-paths.
const nixosAArch64 = `enabled
interpreter /run/binfmt/aarch64-linux
flags: P
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
`

// riscv is some other registration, which must not count.
const riscv = `enabled
interpreter /usr/libexec/qemu-binfmt/riscv64-binfmt-P
flags: POCF
offset 0
magic 7f454c460201010000000000000000000200f300
mask ffffffffffffff00fffffffffffffffffeffffff
`

const pingCmd = "/usr/bin/nix --extra-experimental-features nix-command flakes store ping --store "

func TestAArch64BuilderEachCase(t *testing.T) {
	debian := "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n"
	ubuntu := "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=debian\n"
	nixos := "NAME=NixOS\nID=nixos\n"
	cases := []struct {
		name   string
		files  map[string]string
		cmds   map[string]string
		arch   string
		ok     bool
		detail string
		next   string
	}{
		{name: "nothing on Debian", files: map[string]string{"/etc/os-release": debian},
			detail: "no aarch64 interpreter is registered", next: "apt-get install -y qemu-user-static binfmt-support"},
		{name: "another emulator only", files: map[string]string{"/etc/os-release": ubuntu, binfmtDir + "/qemu-riscv64": riscv,
			"/etc/nix/nix.conf": "extra-platforms = aarch64-linux\n"}, detail: "no aarch64 interpreter", next: "apt-get install"},
		{name: "qemu registered, nix not told", files: map[string]string{"/etc/os-release": debian, binfmtDir + "/qemu-aarch64": qemuAArch64},
			detail: "extra-platforms does not list aarch64-linux", next: "extra-platforms = aarch64-linux"},
		{name: "qemu registered and in extra-platforms", files: map[string]string{"/etc/os-release": debian, binfmtDir + "/qemu-aarch64": qemuAArch64,
			binfmtDir + "/register": "", binfmtDir + "/status": "enabled\n",
			"/etc/nix/nix.conf": "experimental-features = nix-command flakes\nextra-platforms = aarch64-linux i686-linux\n"},
			ok: true, detail: "aarch64-binfmt-P registered with binfmt_misc (flag F)"},
		{name: "registered without F, not sandboxed", files: map[string]string{"/etc/os-release": debian,
			binfmtDir + "/qemu-aarch64": strings.Replace(qemuAArch64, "flags: POF", "flags: P", 1), "/etc/nix/nix.conf": "extra-platforms = aarch64-linux\n"},
			detail: "without the F flag"},
		{name: "disabled registration", files: map[string]string{"/etc/os-release": debian,
			binfmtDir + "/qemu-aarch64": strings.Replace(qemuAArch64, "enabled", "disabled", 1), "/etc/nix/nix.conf": "extra-platforms = aarch64-linux\n"},
			detail: "no aarch64 interpreter"},
		{name: "NixOS emulatedSystems", files: map[string]string{"/etc/os-release": nixos, binfmtDir + "/aarch64-linux": nixosAArch64,
			"/etc/nix/nix.conf": "extra-platforms = aarch64-linux\nextra-sandbox-paths = /run/binfmt /nix/store/abc-qemu-user-static\n"},
			ok: true, detail: "in extra-sandbox-paths"},
		{name: "NixOS without it", files: map[string]string{"/etc/os-release": nixos}, detail: "no aarch64 builder is named",
			next: "boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ];"},
		{name: "builder named and answering", files: map[string]string{"/etc/os-release": debian,
			"/etc/nix/nix.conf": "builders = ssh-ng://builder@arm64.lab aarch64-linux /etc/nix/builder_ed25519 4 1 big-parallel ; ssh://x86.lab x86_64-linux\n"},
			cmds: map[string]string{pingCmd + "ssh-ng://builder@arm64.lab": "Store URL: ssh-ng://builder@arm64.lab\n"},
			ok:   true, detail: "remote builder ssh-ng://builder@arm64.lab"},
		{name: "builder named but silent", files: map[string]string{"/etc/os-release": debian,
			"/etc/nix/nix.conf": "builders = ssh-ng://builder@arm64.lab aarch64-linux\n"}, detail: "does not answer"},
		{name: "only an x86 builder", files: map[string]string{"/etc/os-release": debian,
			"/etc/nix/nix.conf": "builders = ssh://x86.lab x86_64-linux\n"}, cmds: map[string]string{pingCmd + "ssh://x86.lab": ""},
			detail: "no aarch64 builder is named"},
		{name: "builder in the default machines file", files: map[string]string{"/etc/os-release": ubuntu,
			"/etc/nix/machines": "# lab\nssh://pi@jetson-build aarch64-linux,armv7l-linux - 6 2\n"},
			cmds: map[string]string{pingCmd + "ssh://pi@jetson-build": ""}, ok: true, detail: "ssh://pi@jetson-build"},
		{name: "extra-platforms from NIX_CONFIG, unknown distro", files: map[string]string{binfmtDir + "/qemu-aarch64": qemuAArch64},
			detail: "extra-platforms does not list", next: "On NixOS:"},
		{name: "an aarch64 host", arch: "aarch64", ok: true, detail: "natively"},
	}
	for _, c := range cases {
		h := healthy()
		delete(h.Files, "/etc/nix/nix.conf")
		delete(h.Files, binfmtDir+"/qemu-aarch64")
		for k, v := range c.files {
			h.Files[k] = v
		}
		for k, v := range c.cmds {
			h.Commands[k] = v
		}
		if c.arch != "" {
			h.Arch = c.arch
		}
		r := CheckAArch64Builder(context.Background(), h)
		if r.OK != c.ok || !strings.Contains(r.Detail, c.detail) || !strings.Contains(r.Next, c.next) || r.OK != (r.Next == "") {
			t.Errorf("%s: ok %v detail %q next %q", c.name, r.OK, r.Detail, r.Next)
		}
	}
	// The unknown distro gets both next steps.
	h := healthy()
	delete(h.Files, "/etc/nix/nix.conf")
	delete(h.Files, binfmtDir+"/qemu-aarch64")
	if r := CheckAArch64Builder(context.Background(), h); !strings.Contains(r.Next, "On NixOS:") || !strings.Contains(r.Next, "On Debian/Ubuntu:") {
		t.Errorf("unknown distro next: %q", r.Next)
	}
	h.Env = map[string]string{"NIX_CONFIG": "extra-platforms = aarch64-linux"}
	h.Files[binfmtDir+"/qemu-aarch64"] = qemuAArch64
	if r := CheckAArch64Builder(context.Background(), h); !r.OK {
		t.Errorf("NIX_CONFIG's extra-platforms: %+v", r)
	}
}

func TestAArch64BuilderFixOnDebian(t *testing.T) {
	h := healthy()
	h.Files["/etc/nix/nix.conf"] = "experimental-features = nix-command flakes\n"
	delete(h.Files, binfmtDir+"/qemu-aarch64")
	h.Files["/etc/os-release"] = "ID=ubuntu\nID_LIKE=debian\n"
	for _, c := range []string{"sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-user-static binfmt-support",
		"sudo systemctl restart systemd-binfmt", "sudo mkdir -p /etc/nix", "sudo systemctl restart nix-daemon"} {
		h.Commands[c] = ""
	}
	f := find(t, run(t, h, false), "aarch64-builder")
	if f.Status != Warn || !f.Fixable || !strings.Contains(f.Next, "qemu-user-static") {
		t.Fatalf("%+v", f)
	}
	f = find(t, run(t, h, true), "aarch64-builder")
	if !strings.Contains(f.Fixed, "installed qemu-user-static") || !strings.Contains(f.Fixed, "extra-platforms = aarch64-linux to /etc/nix/nix.conf") ||
		!strings.Contains(f.Fixed, "restarted nix-daemon") {
		t.Errorf("fixed %q (error %q)", f.Fixed, f.FixError)
	}
	if !strings.Contains(h.Files["/etc/nix/nix.conf"], "\nextra-platforms = aarch64-linux\n") {
		t.Errorf("nix.conf %q", h.Files["/etc/nix/nix.conf"])
	}
	// The package is what registers the interpreter: once it is there (as
	// on a real host after apt-get), the check passes.
	h.Files[binfmtDir+"/qemu-aarch64"] = qemuAArch64
	if f := find(t, run(t, h, false), "aarch64-builder"); f.Status != OK {
		t.Errorf("after the fix: %+v", f)
	}
	// NixOS is changed through its configuration, not by jetup.
	n := healthy()
	n.Files["/etc/os-release"] = "ID=nixos\n"
	delete(n.Files, binfmtDir+"/qemu-aarch64")
	if f := find(t, run(t, n, false), "aarch64-builder"); f.Fixable || !strings.Contains(f.Next, "nixos-rebuild switch") {
		t.Errorf("NixOS: %+v", f)
	}
}
