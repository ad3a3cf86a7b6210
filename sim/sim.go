package sim

import (
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/doctor"
	"github.com/jetup/jetup/hardware"
	"github.com/jetup/jetup/image"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/verify"
)

// Bench returns a simulated bench.
// The board on the console and the push target are one board: the
// console prints the host key the push is offered.
func Hardware() hardware.Edges {
	// Every part runs at the bench's speed (speed.go).
	target := NewPushBoard(PushOptions{Pace: 1 / Speed(), Rate: 35 << 20 * Speed()})
	disks := NewDisks()
	disks.WriteRate *= Speed()
	disks.ReadRate *= Speed()
	serial := &SerialBench{HostKeys: []ssh.PublicKey{target.HostKey()}}
	e := hardware.Edges{Sim: true, Runner: proc.Host{}, Nix: &nixrun.Nix{Runner: proc.Host{}}, Host: Host(), USB: DemoUSB(), Flash: NewFlashEdge(),
		Disks: disks, Installer: &Installer{Pace: scaled(400 * time.Millisecond)}, Serial: serial}
	return WithBoard(e, serial, target)
}

// WithBoard is the bench e with target as the board its console, push,
// verify and update reach; its NextBoard swaps in the next board at the
// same address (PushBoard.Next), whose console boots from the start. The
// board before keeps its own edges: its push may still be in flight.
func WithBoard(e hardware.Edges, serial *SerialBench, target *PushBoard) hardware.Edges {
	e.Push = EdgeFor(target)
	e.Verify = VerifyEdgeFor(target)
	e.Update = image.Edge{SSH: EdgeFor(target).SSH, Runner: proc.Host{}}
	e.NextBoard = func() hardware.Edges {
		next := target.Next()
		if serial != nil {
			serial.NextBoard([]ssh.PublicKey{next.HostKey()})
		}
		return WithBoard(e, serial, next)
	}
	return e
}

// VerifyEdgeFor is the verify step's edge against board: the same SSH,
// and verify's 2 s look at a coming node at the board's pace.
func VerifyEdgeFor(b *PushBoard) verify.Edge {
	return verify.Edge{SSH: &simSSH{b}, PollEvery: time.Duration(float64(2*time.Second) * b.pace)}
}

// Host is a healthy x86_64 bench host for doctor: Nix with flakes, sudo,
// libusb, the udev rule, autosuspend off, a user in dialout, plenty of space.
func Host() *doctor.MemHost {
	return &doctor.MemHost{
		Arch: "x86_64",
		Files: map[string]string{
			"/etc/nix/nix.conf": "experimental-features = nix-command flakes\nextra-platforms = aarch64-linux\n",
			// qemu-user-static's registration: the bench builds a board's
			// system under emulation (doctor's aarch64-builder).
			"/proc/sys/fs/binfmt_misc/qemu-aarch64": "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\noffset 0\n" +
				"magic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n",
			"/usr/lib/x86_64-linux-gnu/libusb-1.0.so.0":  "",
			"/etc/udev/rules.d/70-jetup.rules":           `SUBSYSTEM=="usb", ATTR{idVendor}=="0955", TAG+="uaccess"` + "\n",
			"/sys/module/usbcore/parameters/autosuspend": "2\n",
			"/etc/group": "dialout:x:20:tech\n",
		},
		Commands: map[string]string{"/nix/var/nix/profiles/default/bin/nix --version": "nix (Nix) 2.24.9\n"},
		Paths: map[string]string{
			"nix":  "/nix/var/nix/profiles/default/bin/nix",
			"sudo": "/usr/bin/sudo",
		},
		Free:  map[string]uint64{"/nix": 212 << 30},
		Usr:   doctor.User{Name: "tech", UID: 1000, Home: "/home/tech", Groups: []string{"tech", "dialout"}},
		Procs: []string{"systemd", "ModemManager"},
	}
}
