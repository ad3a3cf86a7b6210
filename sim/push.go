package sim

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/remote"
)

// PushBoard is a simulated Jetson that has booted the NixOS installer
// stick and mounted its NVMe on /mnt, reachable at 192.168.55.1 (the
// address L4T and jetpack-nixos give the board on the USB device-mode
// network). It answers jetup's probe and activation scripts as the real
// board's shell would, receives `nix copy` at the pace of a USB link, and
// keeps what it received, so a second push sends nothing.
type PushBoard struct {
	Host       string  // the board's address
	Hostname   string  // as the probe reports it
	Arch       string  // uname -m
	NixVersion string  // "2.24.9"
	Rate       float64 // bytes per second the link carries
	FreeBytes  int64   // free on /mnt
	// Installed makes the board an installed NixOS (switch) instead of
	// the live installer.
	Installed bool

	key  ssh.PublicKey
	pace float64

	mu         sync.Mutex
	gates      map[string]*simGate // copy gates by token
	store      map[string]bool     // paths on the board
	generation int
	closure    []deploy.StorePath
	top        string
	upd        *simUpdates
	verify     *VerifyBoard // answers verify, made on first use
	boards     int          // boards of the bench before this one (NextBoard)
}

// PushOptions tune the simulated board.
type PushOptions struct {
	// Rate is the link's speed in bytes per second (35 MiB/s, a USB 3
	// device-mode link, when 0).
	Rate float64
	// Paths and Bytes size the system closure (850 paths, 1.2 GiB when 0).
	Paths int
	Bytes int64
	// Pace scales every wait but the copy's (1, real time, when 0; tests
	// use less).
	Pace float64
}

// NewPushBoard makes the simulated board and its system closure.
func NewPushBoard(o PushOptions) *PushBoard {
	if o.Rate == 0 {
		o.Rate = 35 << 20
	}
	if o.Paths == 0 {
		o.Paths = 850
	}
	if o.Bytes == 0 {
		o.Bytes = 1200 << 20
	}
	if o.Pace == 0 {
		o.Pace = 1
	}
	key := simHostKey()
	b := &PushBoard{Host: BoardAddress, Hostname: "nixos", Arch: "aarch64", NixVersion: "2.24.9",
		Rate: o.Rate, FreeBytes: 230 << 30, key: key, pace: o.Pace, store: map[string]bool{}, gates: map[string]*simGate{}}
	b.closure, b.top = simClosure(o.Paths, o.Bytes)
	return b
}

// PushEdge is the push step's edge against a new simulated board.
func PushEdge(o PushOptions) deploy.Edge { return EdgeFor(NewPushBoard(o)) }

// EdgeFor is the push step's edge against board.
func EdgeFor(b *PushBoard) deploy.Edge { return deploy.Edge{Nix: &simNix{b}, SSH: &simSSH{b}} }

// Fingerprint is the board's host key fingerprint (what its console
// would print).
func (b *PushBoard) Fingerprint() string { return remote.Fingerprint(b.HostKey()) }

// HostKey is the board's ed25519 host key, the one its console prints
// (sim.Board's ssh-keygen answers).
func (b *PushBoard) HostKey() ssh.PublicKey {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.key
}

// Next is the bench's next board, at the same address and with the same
// system to receive: a host key of its own (made on its first boot, as a
// real installer makes one), an empty store. Its key is ed25519 from a
// seed numbered by board, so a run of the demo is the same every time.
func (b *PushBoard) Next() *PushBoard {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := &PushBoard{Host: b.Host, Hostname: b.Hostname, Arch: b.Arch, NixVersion: b.NixVersion, Rate: b.Rate,
		FreeBytes: b.FreeBytes, Installed: b.Installed, pace: b.pace, store: map[string]bool{}, gates: map[string]*simGate{},
		closure: b.closure, top: b.top, boards: b.boards + 1}
	n.key = hostKeyFrom(fmt.Sprintf("jetup simulated jetson host key, board %d", n.boards+1))
	return n
}

// simHostKey is the simulated Jetson's host key: the same on every run,
// as a board keeps its key until it is reinstalled.
func simHostKey() ssh.PublicKey { return hostKeyFrom("jetup simulated jetson host key") }

func hostKeyFrom(text string) ssh.PublicKey {
	seed := sha256.Sum256([]byte(text))
	pub := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	key, _ := ssh.NewPublicKey(pub)
	return key
}

// System is the simulated system toplevel.
func (b *PushBoard) System() string { return b.top }

var simNames = []string{"glibc-2.39-52", "systemd-256.8", "linux-5.15.148-jetson", "nvidia-l4t-core-36.4.3",
	"nvidia-l4t-cuda-36.4.3", "cuda-toolkit-12.6", "bash-5.2p37", "coreutils-9.5", "openssh-9.9p1",
	"python3-3.12.8", "perl-5.40.0", "util-linux-2.40.2", "gcc-13.3.0-lib", "openssl-3.3.2",
	"nix-2.24.9", "dbus-1.14.10", "kmod-33", "e2fsprogs-1.47.1", "iproute2-6.11.0", "tegra-firmware-36.4.3"}

// simClosure is a deterministic closure whose path sizes spread like a
// real system's: most paths small, a few very large.
func simClosure(n int, total int64) ([]deploy.StorePath, string) {
	r := rand.New(rand.NewSource(6))
	weights := make([]float64, n)
	var sum float64
	for i := range weights {
		weights[i] = r.ExpFloat64() * r.ExpFloat64() * r.ExpFloat64()
		sum += weights[i]
	}
	paths := make([]deploy.StorePath, n)
	for i := range paths {
		h := sha256.Sum256([]byte(fmt.Sprint("sim path ", i)))
		name := simNames[i%len(simNames)]
		if i >= len(simNames) {
			name = fmt.Sprintf("%s-part%d", name, i/len(simNames))
		}
		paths[i] = deploy.StorePath{Path: "/nix/store/" + nixHash(h[:]) + "-" + name, NarSize: int64(weights[i]/sum*float64(total)) + 4096}
	}
	h := sha256.Sum256([]byte("sim toplevel"))
	top := "/nix/store/" + nixHash(h[:]) + "-nixos-system-nixos-24.11.20250101.jetson"
	paths = append(paths, deploy.StorePath{Path: top, NarSize: 52_000})
	return paths, top
}

// nixHash renders 20 bytes in Nix's base32 alphabet (32 characters).
func nixHash(b []byte) string {
	const alphabet = "0123456789abcdfghijklmnpqrsvwxyz"
	out := make([]byte, 32)
	for i := range out {
		out[i] = alphabet[int(b[i%len(b)])%32]
	}
	return string(out)
}

// wait is a paced sleep on the board's side.
func (b *PushBoard) wait(ctx context.Context, d time.Duration) error {
	return sleep(ctx, time.Duration(float64(d)*b.pace))
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// simGate is a copy's gate: closed when the board shell opens it (copy)
// or refuses it (nocopy, refused true).
type simGate struct {
	done    chan struct{}
	refused bool
	once    sync.Once
}

func (g *simGate) close(refused bool) {
	g.once.Do(func() { g.refused = refused; close(g.done) })
}

// gate is the copy gate of token, made on first use.
func (b *PushBoard) gate(token string) *simGate {
	b.mu.Lock()
	defer b.mu.Unlock()
	g, ok := b.gates[token]
	if !ok {
		g = &simGate{done: make(chan struct{})}
		b.gates[token] = g
	}
	return g
}

// shell runs the board script: the list, the probe, the gate, the
// activation.
func (c *simConn) shell(ctx context.Context, script string, in *bufio.Reader, w io.Writer) error {
	mode, token := "", c.token
	for _, l := range strings.Split(script, "\n") {
		if v, ok := strings.CutPrefix(l, "mode="); ok {
			mode = v
		}
	}
	n := 0
	line, err := in.ReadString('\n')
	if err != nil {
		return nil
	}
	fmt.Sscan(line, &n)
	if n < 0 || n > 64<<20 { // the real board shell streams it with head -c; the sim holds it
		return nil
	}
	list := make([]byte, n)
	if _, err := io.ReadFull(in, list); err != nil {
		return nil
	}
	if err := c.b.wait(ctx, 120*time.Millisecond); err != nil {
		return err
	}
	mode = c.probe(mode, strings.Fields(string(list)), w)
	for {
		cmd, err := in.ReadString('\n')
		switch {
		case err != nil:
			return nil
		case cmd == "copy\n":
			c.b.gate(token).close(false)
		case cmd == "nocopy\n":
			c.b.gate(token).close(true)
		case strings.HasPrefix(cmd, "go"):
			return c.activate(ctx, mode == "installer", strings.Contains(cmd, "reboot"), w)
		default:
			return nil
		}
	}
}

func (c *simConn) probe(mode string, paths []string, w io.Writer) string {
	b := c.b
	say := func(k, v string) { fmt.Fprintf(w, "jetup:%s=%s\n", k, v) }
	uid := "0"
	priv := "root"
	if c.user != "root" {
		uid, priv = "1000", "sudo"
	}
	say("arch", b.Arch)
	say("uid", uid)
	say("user", c.user)
	say("hostname", b.Hostname)
	say("priv", priv)
	say("nix", "nix-store (Nix) "+b.NixVersion)
	say("nixos", "yes")
	say("current", "/nix/store/"+strings.Repeat("c", 32)+"-nixos-system-nixos-24.11")
	say("nixos_version", "24.11.20250101 (Vicuna)")
	say("nixos_install", "yes")
	say("systemd_run", "yes")
	if !b.Installed {
		say("mnt_mounted", "yes")
		say("live", "yes")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.generation > 0 {
		say("generation", fmt.Sprintf("system-%d-link", b.generation))
	}
	if mode == "" {
		mode = "switch"
		if !b.Installed {
			mode = "installer"
		}
	}
	say("mode", mode)
	root := ""
	if mode == "installer" {
		root = "/mnt"
	}
	say("store_root", root)
	say("free_on", root+"/nix")
	say("free_kib", fmt.Sprint(b.FreeBytes/1024))
	for _, p := range paths {
		if !b.store[p] {
			say("invalid", p)
		}
	}
	say("delta_rc", "0")
	say("probe_end", "1")
	return mode
}

var installLines = []string{
	"copying path '%s' to 'local?root=/mnt'...",
	"installing the boot loader...",
	"setting up /etc...",
	"updating GRUB 2 menu...",
	"Copied \"/nix/store/…-systemd-256.8/lib/systemd/boot/efi/systemd-bootaa64.efi\" to \"/boot/EFI/systemd/systemd-bootaa64.efi\".",
	"Created EFI boot entry \"Linux Boot Manager\".",
	"installation finished!",
}

func (c *simConn) activate(ctx context.Context, installer, reboot bool, w io.Writer) error {
	c.b.mu.Lock()
	c.b.generation++
	gen := c.b.generation
	c.b.mu.Unlock()
	lines := []string{"activating the configuration...", "setting up /etc...", "reloading user units for root...",
		"restarting sysinit-reactivation.target", "the following new units were started: nvpmodel.service"}
	if installer {
		lines = installLines
	}
	for _, l := range lines {
		if strings.Contains(l, "%s") {
			l = fmt.Sprintf(l, c.b.top)
		}
		if err := c.b.wait(ctx, 600*time.Millisecond); err != nil {
			return err
		}
		fmt.Fprintln(w, l)
	}
	fmt.Fprintf(w, "jetup:generation=system-%d-link\njetup:rc=0\n", gen)
	if reboot {
		fmt.Fprintln(w, "jetup:rebooting=yes")
	}
	return nil
}
