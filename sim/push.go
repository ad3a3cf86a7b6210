package sim

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"regexp"
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
	verify     *VerifyBoard // answers verify, made on first use
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
func (b *PushBoard) Fingerprint() string { return remote.Fingerprint(b.key) }

// HostKey is the board's ed25519 host key, the one its console prints
// (sim.Board's ssh-keygen answers).
func (b *PushBoard) HostKey() ssh.PublicKey { return b.key }

// simHostKey is the simulated Jetson's host key: the same on every run,
// as a board keeps its key until it is reinstalled.
func simHostKey() ssh.PublicKey {
	seed := sha256.Sum256([]byte("jetup simulated jetson host key"))
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

// simNix is this machine's Nix holding the simulated system.
type simNix struct{ b *PushBoard }

// Resolve takes any path (./result by default in the wizard) to the
// simulated toplevel, as a built result link would.
func (n *simNix) Resolve(path string) (string, error) {
	if path == n.b.top || path == "./result" || path == "result" {
		return n.b.top, nil
	}
	if strings.HasPrefix(path, "/nix/store/") {
		return "", fmt.Errorf("%s is not in the simulated store; use ./result", path)
	}
	return "", fmt.Errorf("lstat %s: no such file or directory", path)
}

func (n *simNix) ReadFile(path string) ([]byte, error) {
	if path == n.b.top+"/system" {
		return []byte("aarch64-linux"), nil
	}
	return nil, os.ErrNotExist
}

// Build takes a few seconds to "fetch" the system from a cache.
func (n *simNix) Build(ctx context.Context, installable string, log io.Writer) (string, error) {
	if !strings.Contains(installable, "#") {
		return "", fmt.Errorf("error: cannot find flake attribute in '%s'", installable)
	}
	fmt.Fprintf(log, "@nix {\"action\":\"start\",\"id\":1,\"level\":0,\"text\":\"\",\"type\":104}\n")
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(log, "@nix {\"action\":\"start\",\"id\":%d,\"level\":3,\"text\":\"building\",\"type\":105,\"fields\":[\"/nix/store/%s-%s.drv\",\"\",1,1]}\n",
			10+i, strings.Repeat("a", 32), simNames[i])
		if err := n.b.wait(ctx, 500*time.Millisecond); err != nil {
			return "", err
		}
		fmt.Fprintf(log, "@nix {\"action\":\"result\",\"id\":1,\"type\":105,\"fields\":[%d,6,1,0]}\n", i)
		fmt.Fprintf(log, "@nix {\"action\":\"stop\",\"id\":%d}\n", 10+i)
	}
	return n.b.top, nil
}

func (n *simNix) PathInfo(_ context.Context, path string) ([]byte, error) {
	if path != n.b.top {
		return nil, fmt.Errorf("error: path '%s' is not valid", path)
	}
	type info struct {
		Path    string `json:"path"`
		NarSize int64  `json:"narSize"`
	}
	out := make([]info, len(n.b.closure))
	for i, p := range n.b.closure {
		out[i] = info{p.Path, p.NarSize}
	}
	return json.Marshal(out)
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

var gateToken = regexp.MustCompile(`%2Ftmp%2Fjetup-([0-9a-f]+)`)

// Copy waits at the board's gate as jetup's remote-program does, then
// sends the paths the board lacks, one at a time at the link's rate,
// logging as Nix 2.8 does (start and stop per path, no byte progress).
func (n *simNix) Copy(ctx context.Context, req deploy.CopyRequest, log io.Writer) error {
	b := n.b
	if strings.HasPrefix(req.To, "file://") {
		return n.copyToDir(ctx, req, log)
	}
	if m := gateToken.FindStringSubmatch(req.To); m != nil {
		g := b.gate(m[1])
		select {
		case <-g.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if g.refused {
			return fmt.Errorf("error: cannot open connection to remote store '%s': error: unexpected end-of-file", req.To)
		}
	}
	var missing []deploy.StorePath
	b.mu.Lock()
	for _, p := range b.closure {
		if !b.store[p.Path] {
			missing = append(missing, p)
		}
	}
	b.mu.Unlock()
	fmt.Fprintf(log, "@nix {\"action\":\"start\",\"id\":100,\"level\":3,\"text\":\"copying %d paths\",\"type\":103}\n", len(missing))
	for i, p := range missing {
		id := 101 + i
		fmt.Fprintf(log, "@nix {\"action\":\"start\",\"fields\":[%q,\"local\",%q],\"id\":%d,\"level\":3,\"text\":\"copying path '%s' to '%s'\",\"type\":100}\n",
			p.Path, req.To, id, p.Path, req.To)
		if err := sleep(ctx, time.Duration(float64(p.NarSize)/b.Rate*float64(time.Second))); err != nil {
			return err
		}
		b.mu.Lock()
		b.store[p.Path] = true
		b.mu.Unlock()
		fmt.Fprintf(log, "@nix {\"action\":\"stop\",\"id\":%d}\n", id)
	}
	fmt.Fprintf(log, "@nix {\"action\":\"stop\",\"id\":100}\n")
	return nil
}

// copyToDir writes a narinfo per path, so a second run finds them.
func (n *simNix) copyToDir(ctx context.Context, req deploy.CopyRequest, log io.Writer) error {
	dir, _, _ := strings.Cut(strings.TrimPrefix(req.To, "file://"), "?")
	for i, p := range n.b.closure {
		hash, _, _ := strings.Cut(filepath.Base(p.Path), "-")
		f := filepath.Join(dir, hash+".narinfo")
		if _, err := os.Stat(f); err == nil {
			continue
		}
		fmt.Fprintf(log, "@nix {\"action\":\"start\",\"fields\":[%q,\"local\",%q],\"id\":%d,\"level\":3,\"type\":100}\n", p.Path, req.To, i+1)
		if err := sleep(ctx, time.Duration(float64(p.NarSize)/(4*n.b.Rate)*float64(time.Second))); err != nil {
			return err
		}
		if err := os.WriteFile(f, []byte("StorePath: "+p.Path+"\nCompression: zstd\n"), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(log, "@nix {\"action\":\"stop\",\"id\":%d}\n", i+1)
	}
	return nil
}

// simSSH reaches the simulated board, and nothing else.
type simSSH struct{ b *PushBoard }

func (s *simSSH) reach(ctx context.Context, host string) error {
	if host != s.b.Host && host != s.b.Hostname {
		if err := s.b.wait(ctx, 3*time.Second); err != nil {
			return err
		}
		return &remote.DialError{Reason: remote.Unreachable, Detail: "ssh: connect to host " + host + " port 22: No route to host"}
	}
	return s.b.wait(ctx, 150*time.Millisecond)
}

func (s *simSSH) HostKey(ctx context.Context, addr string, _ []string) (ssh.PublicKey, error) {
	host, _, _ := net.SplitHostPort(addr)
	if err := s.reach(ctx, host); err != nil {
		return nil, err
	}
	return s.b.key, nil
}

// Dial checks the host key against known_hosts as OpenSSH does, and the
// user as the installer's sshd does (root, or nixos with sudo).
func (s *simSSH) Dial(ctx context.Context, t remote.Target, o remote.DialOptions) (remote.Conn, error) {
	if err := s.reach(ctx, t.Host); err != nil {
		return nil, err
	}
	pinned, err := remote.KnownHosts{File: o.KnownHosts}.Pinned(t.Addr())
	if err != nil {
		return nil, err
	}
	ok := false
	for _, k := range pinned {
		ok = ok || remote.Fingerprint(k) == s.b.Fingerprint()
	}
	if !ok {
		return nil, &remote.DialError{Reason: remote.HostKeyMismatch, Detail: "Host key verification failed."}
	}
	user := t.User
	if user == "" {
		user = "root"
	}
	if user != "root" && user != "nixos" {
		return nil, &remote.DialError{Reason: remote.AuthRefused, Detail: user + "@" + t.Host + ": Permission denied (publickey)."}
	}
	if err := s.b.wait(ctx, 250*time.Millisecond); err != nil {
		return nil, err
	}
	if strings.HasPrefix(o.Script, verifyScriptTag) {
		return s.b.Verifier().Shell(ctx, o.Script), nil
	}
	return newSimConn(ctx, s.b, user, o.Script), nil
}

// simConn is the connection and its board shell: it answers jetup's board
// script as the board's sh would, reading the same input and gate.
type simConn struct {
	b      *PushBoard
	user   string
	token  string
	out    *io.PipeReader
	in     *io.PipeWriter
	done   chan struct{}
	err    error
	mu     sync.Mutex
	closed bool
}

func newSimConn(ctx context.Context, b *PushBoard, user, script string) *simConn {
	outR, outW := io.Pipe()
	inR, inW := io.Pipe()
	c := &simConn{b: b, user: user, token: scriptToken(script), out: outR, in: inW, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		err := c.shell(ctx, script, bufio.NewReader(inR), outW)
		c.b.gate(c.token).close(true) // the shell is gone: a waiting copy ends
		c.mu.Lock()
		if c.closed && err != nil {
			err = remote.ErrConnectionLost
		}
		c.err = err
		c.mu.Unlock()
		outW.CloseWithError(io.EOF)
	}()
	return c
}

// scriptToken is the gate token a board script names.
func scriptToken(script string) string {
	for _, l := range strings.Split(script, "\n") {
		if v, ok := strings.CutPrefix(l, "gate=/tmp/jetup-"); ok {
			return v
		}
	}
	return ""
}

func (c *simConn) Output() io.Reader { return c.out }

func (c *simConn) Send(s string) error {
	if _, err := io.WriteString(c.in, s); err != nil {
		return remote.ErrConnectionLost
	}
	return nil
}

func (c *simConn) Wait() error { <-c.done; return c.err }

func (c *simConn) Alive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.closed
}

func (c *simConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.in.CloseWithError(io.EOF)
	c.out.CloseWithError(io.ErrClosedPipe)
	return nil
}

func (c *simConn) StoreURL(q string) (string, []string) {
	if q != "" {
		q = "?" + q
	}
	return "ssh-ng://jetup-board" + q, nil
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
