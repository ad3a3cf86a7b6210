package testboard

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/jetup/jetup/internal/testkit"
)

// Need skips (or fails under CI) unless a board can be made here.
func Need(t testing.TB) {
	t.Helper()
	testkit.NeedRoot(t)
	testkit.NeedCommands(t, "ip", "unshare", "nsenter", "/usr/sbin/sshd", "ssh-keygen", "ssh", "nix", "nix-build", "nix-store")
}

// Options shape the board.
type Options struct {
	// Installer makes it look like the live NixOS installer with a target
	// disk on /mnt: /nix/.ro-store, a nixos-install, something on /mnt.
	Installer bool
	// NoNix hides nix-store from the board's PATH.
	NoNix bool
	// RSAKey gives the board an RSA host key besides its ed25519 one.
	RSAKey bool
	// NixMiB, when set, gives the board a /nix of that size (a tmpfs)
	// instead of a directory of the test's.
	NixMiB int

	// System makes the board run a NixOS system: a store path (made in
	// its /nix, with sw/bin and nixos-version) that /run/current-system,
	// /run/booted-system and the system profile point to. BootEntry, when
	// set, is the profile's target instead (pushed with --mode boot, not
	// rebooted yet).
	System, BootEntry string
	// Tools are the board's own commands (name: script), put in the
	// system's sw/bin, first on a NixOS login's PATH.
	Tools map[string]string
	// DevNodes gives the board its own /dev (a tmpfs with null, zero,
	// full, random, urandom and tty) holding these character devices too:
	// a Jetson's GPU nodes, there without their driver.
	DevNodes []string
	// CPU, when set, is the board's own processor: its sshd and every
	// session it runs get this many cores' worth of time (NewCPUBudget).
	CPU float64
	// Tmpfs are directories of this machine the board gets as its own
	// empty tmpfs (/var/lib, for k3s's data); Dirs are made after.
	Tmpfs, Dirs []string
	// Links are symlinks made on the board (path: target), after Tmpfs:
	// /run/cdi to /run/jetup-board/cdi puts a directory of the test's
	// (Board.Dir/cdi) where the board's tools look.
	Links map[string]string
	// Hide makes these programs of this machine empty files on the board
	// ("/usr/bin/zstd": a board without zstd).
	Hide []string
	// Etc are files under the board's /etc (path -> content); the board
	// then has a private copy of this machine's /etc with them added.
	Etc map[string]string
}

// Board is a running board.
type Board struct {
	Name      string // the network namespace
	Dir       string // its files: nix/ (the board's /nix), mnt/, keys, sshd log
	Addr      string // 192.168.N.1
	HostAddr  string // 192.168.N.100, this side of the veth
	Port      int
	ClientKey string // private key the board accepts for root
	NixDir    string // what the board sees as /nix

	t       testing.TB
	opt     Options
	veth    string
	sshd    *exec.Cmd
	cpu     *CPUBudget // Options.CPU's, nil without
	lock    *os.File
	stopped bool
}

// New makes a board and tears it down when the test ends.
func New(t testing.TB, o Options) *Board {
	t.Helper()
	Need(t)
	b := &Board{t: t, opt: o, Dir: t.TempDir(), Port: 22}
	b.NixDir = filepath.Join(b.Dir, "nix")
	for _, d := range []string{b.NixDir, filepath.Join(b.Dir, "mnt"), filepath.Join(b.Dir, "bin")} {
		must(t, os.MkdirAll(d, 0o755))
	}
	n, lock := lockSubnet(t)
	b.lock = lock
	b.Addr, b.HostAddr = fmt.Sprintf("192.168.%d.1", n), fmt.Sprintf("192.168.%d.100", n)
	suffix := fmt.Sprintf("%d%04d", os.Getpid()%100000, time.Now().UnixNano()%10000)
	b.Name = "jetup-push-" + suffix
	b.veth = "jp" + suffix
	t.Cleanup(b.teardown)

	b.keygen("hostkey")
	if o.RSAKey {
		b.keygenType("hostkey_rsa", "rsa")
	}
	b.keygen("clientkey")
	b.ClientKey = filepath.Join(b.Dir, "clientkey")
	pub, err := os.ReadFile(b.ClientKey + ".pub")
	must(t, err)
	must(t, os.WriteFile(filepath.Join(b.Dir, "authorized_keys"), pub, 0o600))
	must(t, os.WriteFile(filepath.Join(b.Dir, "sshd_config"), []byte(b.sshdConfig()), 0o600))
	b.writeTools()

	b.ip("netns", "add", b.Name)
	b.ip("link", "add", b.veth+"h", "type", "veth", "peer", "name", b.veth+"b")
	b.ip("link", "set", b.veth+"b", "netns", b.Name)
	b.ip("addr", "add", b.HostAddr+"/24", "dev", b.veth+"h")
	b.ip("link", "set", b.veth+"h", "up")
	b.ip("-n", b.Name, "addr", "add", b.Addr+"/24", "dev", b.veth+"b")
	b.ip("-n", b.Name, "link", "set", b.veth+"b", "up")
	b.ip("-n", b.Name, "link", "set", "lo", "up")
	must(t, os.MkdirAll("/run/sshd", 0o755))
	if o.CPU > 0 {
		b.cpu = NewCPUBudget(t, b.Name, o.CPU)
	}
	b.Start()
	return b
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// lockSubnet picks a free 192.168.N.0/24 (55 first) for this board: a
// lock file per subnet keeps parallel test packages apart.
func lockSubnet(t testing.TB) (int, *os.File) {
	for n := 55; n < 120; n++ {
		f, err := os.OpenFile(fmt.Sprintf("/run/lock/jetup-testboard-%d.lock", n), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			sweepSubnet(n)
			return n, f
		}
		f.Close()
	}
	t.Fatal("no free test subnet between 192.168.55.0 and 192.168.119.0")
	return 0, nil
}

// sweepSubnet removes what a killed test left on subnet n: its lock was
// let go with the process, but not the board's namespace, its sshd (in its
// own process group) or the host's end of its link, whose 192.168.n.100
// would then answer beside the new board's (a test binary ended by
// -timeout, or a killed run, made every later push test on the machine
// reach the old board's sshd). Whoever holds n's lock owns the subnet, so
// anything else on it is left over.
func sweepSubnet(n int) {
	board := fmt.Sprintf("inet 192.168.%d.1/", n)
	host := fmt.Sprintf("inet 192.168.%d.100/", n)
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if !strings.HasPrefix(name, "jetup-push-") {
			continue
		}
		addrs, _ := exec.Command("ip", "-n", name, "-4", "addr").Output()
		if !strings.Contains(string(addrs), board) {
			continue
		}
		pids, _ := exec.Command("ip", "netns", "pids", name).Output()
		for _, f := range strings.Fields(string(pids)) {
			if pid, err := strconv.Atoi(f); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = exec.Command("ip", "netns", "del", name).Run()
	}
	links, _ := exec.Command("ip", "-4", "-o", "addr").Output()
	for _, line := range strings.Split(string(links), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.Contains(line, host) && strings.HasPrefix(f[1], "jp") {
			name, _, _ := strings.Cut(f[1], "@")
			_ = exec.Command("ip", "link", "del", name).Run()
		}
	}
}

func (b *Board) ip(args ...string) {
	b.t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		b.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

func (b *Board) keygen(name string) { b.keygenType(name, "ed25519") }

func (b *Board) keygenType(name, typ string) {
	b.t.Helper()
	f := filepath.Join(b.Dir, name)
	os.Remove(f)
	os.Remove(f + ".pub")
	args := []string{"-q", "-t", typ, "-N", "", "-C", name, "-f", f}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		b.t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
}

// inside is where the board sees b.Dir: its /tmp is its own, so b.Dir is
// bound under its private /run.
const inside = "/run/jetup-board"

func (b *Board) sshdConfig() string {
	rsa := ""
	if b.opt.RSAKey {
		rsa = "HostKey " + inside + "/hostkey_rsa\n"
	}
	return rsa + fmt.Sprintf(`Port %d
ListenAddress %s
HostKey %s/hostkey
PidFile %s/sshd.pid
AuthorizedKeysFile %s/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
MaxStartups 100
MaxSessions 100
`, b.Port, b.Addr, inside, inside, inside)
}

// writeTools writes the board's fake NixOS bits: the installer's
// nixos-install (it records its call, checks the system arrived in /mnt's
// store and sets /mnt's system profile, as the real one does first).
func (b *Board) writeTools() {
	install := `#!/bin/sh
echo "$@" >> /nix/var/jetup-nixos-install.log
sys=
while [ $# -gt 0 ]; do case "$1" in --system) sys=$2; shift ;; esac; shift; done
nix-store --store 'local?root=/mnt' --check-validity "$sys" || { echo "error: $sys is not in /mnt's store"; exit 1; }
nix-env --store 'local?root=/mnt' -p /mnt/nix/var/nix/profiles/system --set "$sys" || exit 1
echo "installing the boot loader..."
echo "installation finished!"
`
	must(b.t, os.WriteFile(filepath.Join(b.Dir, "bin", "nixos-install"), []byte(install), 0o755))
	must(b.t, os.WriteFile(filepath.Join(b.Dir, "empty"), nil, 0o644))
	if len(b.opt.Tools) > 0 {
		must(b.t, os.MkdirAll(filepath.Join(b.Dir, "tools"), 0o755))
	}
	for name, script := range b.opt.Tools {
		must(b.t, os.WriteFile(filepath.Join(b.Dir, "tools", name), []byte(script), 0o755))
	}
	b.writeEtcSSH()
	for path, content := range b.opt.Etc {
		f := filepath.Join(b.Dir, "etc-extra", path)
		must(b.t, os.MkdirAll(filepath.Dir(f), 0o755))
		must(b.t, os.WriteFile(f, []byte(content), 0o644))
	}
}

// writeEtcSSH makes the board's /etc/ssh: this machine's client files and
// the board's own host keys where a NixOS board keeps them, so what reads
// /etc/ssh/ssh_host_*_key.pub on the board (the bundle's board identity)
// finds the key its sshd offers.
func (b *Board) writeEtcSSH() {
	dir := filepath.Join(b.Dir, "etc-ssh")
	must(b.t, os.MkdirAll(dir, 0o755))
	for _, f := range []string{"ssh_config", "moduli"} {
		if raw, err := os.ReadFile(filepath.Join("/etc/ssh", f)); err == nil {
			must(b.t, os.WriteFile(filepath.Join(dir, f), raw, 0o644))
		}
	}
	keys := map[string]string{"hostkey": "ssh_host_ed25519_key", "hostkey_rsa": "ssh_host_rsa_key"}
	for from, to := range keys {
		for _, ext := range []string{"", ".pub"} {
			os.Remove(filepath.Join(dir, to+ext))
			if raw, err := os.ReadFile(filepath.Join(b.Dir, from+ext)); err == nil {
				must(b.t, os.WriteFile(filepath.Join(dir, to+ext), raw, 0o600))
			}
		}
	}
}

// startScript runs in the board's mount namespace before sshd: its own
// /nix, /run and /tmp (what the board leaves in /tmp goes with it), and
// its own /root/.cache (Nix keeps its binary caches' narinfo database
// there: boards fetching from one cache at once must not share it, as
// real boards do not).
func (b *Board) startScript() string {
	nix := fmt.Sprintf("mount --bind %s/nix /nix", b.Dir)
	if b.opt.NixMiB > 0 {
		nix = fmt.Sprintf("mount -t tmpfs -o size=%dm tmpfs /nix", b.opt.NixMiB)
	}
	s := fmt.Sprintf(`set -e
%[2]s
mount -t tmpfs tmpfs /run
mkdir -p %[3]s /run/sshd /nix/var
mount --bind %[1]s %[3]s
mount -t tmpfs tmpfs /tmp
mount --bind %[3]s/etc-ssh /etc/ssh
mkdir -p /root/.cache
mount -t tmpfs tmpfs /root/.cache
`, b.Dir, nix, inside)
	s += b.systemScript()
	if b.opt.Installer {
		s += fmt.Sprintf("mount --bind %[1]s/mnt /mnt\nmkdir -p /nix/.ro-store\ncp %[1]s/bin/nixos-install /run/current-system/sw/bin/\n", inside)
	}
	for _, f := range b.opt.Hide {
		s += fmt.Sprintf("mount --bind %s/empty %s\n", inside, f)
	}
	if len(b.opt.Etc) > 0 {
		// One command a line: set -e then stops the board on a failure.
		s += fmt.Sprintf("mkdir -p %[1]s/etc\ncp -a /etc/. %[1]s/etc/\ncp -a --remove-destination %[1]s/etc-extra/. %[1]s/etc/\nmount --bind %[1]s/etc /etc\n", inside)
	}
	if b.opt.NoNix {
		s += fmt.Sprintf("for f in /usr/bin/nix-store /usr/bin/nix /usr/bin/nix-env /usr/bin/nix-daemon; do mount --bind %s/empty $f; done\n", inside)
	}
	// -e: sshd logs to stderr, which Start reads (and copies to sshd.log).
	return s + fmt.Sprintf("exec /usr/sbin/sshd -D -e -f %s/sshd_config\n", inside)
}

// systemScript makes the board's NixOS system, /dev, tmpfs directories
// and links (Options.System ... Links).
func (b *Board) systemScript() string {
	o := b.opt
	var s strings.Builder
	sys := o.System
	if sys == "" {
		sys = "/run/current-system"
		s.WriteString("mkdir -p /run/current-system/sw/bin\n")
	} else {
		boot := o.BootEntry
		if boot == "" {
			boot = sys
		}
		// The profile is a generation, as on NixOS: system -> system-1-link.
		fmt.Fprintf(&s, "mkdir -p %[1]s/sw/bin /nix/var/nix/profiles\nln -s %[1]s /run/current-system\nln -s %[1]s /run/booted-system\n"+
			"[ -e /nix/var/nix/profiles/system-1-link ] || ln -sfn %[2]s /nix/var/nix/profiles/system-1-link\n"+
			"[ -e /nix/var/nix/profiles/system ] || ln -sfn system-1-link /nix/var/nix/profiles/system\n", sys, boot)
	}
	fmt.Fprintf(&s, "echo \"24.05.test (jetup test board)\" > %s/nixos-version\n", sys)
	for name := range o.Tools {
		fmt.Fprintf(&s, "cp %s/tools/%s %s/sw/bin/%s\n", inside, name, sys, name)
	}
	if len(o.DevNodes) > 0 {
		s.WriteString(`mount -t tmpfs -o mode=755 tmpfs /dev
mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5; mknod -m 666 /dev/full c 1 7
mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9; mknod -m 666 /dev/tty c 5 0
ln -s /proc/self/fd /dev/fd; mkdir /dev/pts /dev/shm
`)
		for i, n := range o.DevNodes {
			// A major no driver has here: the node exists, opening it fails.
			fmt.Fprintf(&s, "mkdir -p $(dirname %[1]s); mknod -m 660 %[1]s c 511 %[2]d\n", n, i)
		}
	}
	for _, d := range o.Tmpfs {
		fmt.Fprintf(&s, "mount -t tmpfs tmpfs %s\n", d)
	}
	for _, d := range o.Dirs {
		fmt.Fprintf(&s, "mkdir -p %s\n", d)
	}
	for from, to := range o.Links {
		fmt.Fprintf(&s, "mkdir -p $(dirname %[1]s); ln -sfn %[2]s %[1]s\n", from, to)
	}
	return s.String()
}

// Start starts sshd in the namespaces and waits until it says it listens.
// Its log (and the start script's output) goes to Dir/sshd.log. The mount
// namespace is a slave of the host's (as ip netns exec makes it), not
// private: a private copy would keep every host mount of that moment,
// such as another test's stick, mounted here after the host unmounts it.
func (b *Board) Start() {
	b.t.Helper()
	os.Remove(filepath.Join(b.Dir, "sshd.pid"))
	logFile, err := os.OpenFile(filepath.Join(b.Dir, "sshd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	must(b.t, err)
	cmd := exec.Command("ip", "netns", "exec", b.Name, "unshare", "-m", "--propagation", "slave", "sh", "-c", b.startScript())
	pr, pw, err := os.Pipe()
	must(b.t, err)
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		logFile.Close()
		b.t.Fatal(err)
	}
	pw.Close()
	b.sshd, b.stopped = cmd, false
	listening, ended := make(chan struct{}), make(chan struct{})
	var early bytes.Buffer // what it said before listening, for the failure message
	go func() {
		defer close(ended)
		defer logFile.Close()
		defer pr.Close()
		r := bufio.NewReader(pr)
		said := false
		for { // to EOF, so sshd never blocks on its log
			line, err := r.ReadString('\n')
			_, _ = logFile.WriteString(line)
			if !said {
				early.WriteString(line)
				if strings.Contains(line, "Server listening") {
					said = true
					close(listening)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case <-listening:
		// sshd is the process started (ip, unshare and sh each exec the
		// next): its sessions are forked after this, in the budget.
		if b.cpu != nil {
			must(b.t, b.cpu.Add(cmd.Process.Pid))
		}
	case <-ended:
		b.t.Fatalf("sshd ended before it listened: %s", early.String())
	case <-time.After(time.Minute):
		b.t.Fatal("waited a minute for sshd to say it listens") // early is still being written: not read here
	}
}

// Stop ends sshd and every session it runs.
func (b *Board) Stop() {
	if b.sshd == nil || b.stopped {
		return
	}
	b.stopped = true
	b.KillSessions()
	_ = syscall.Kill(-b.sshd.Process.Pid, syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = b.sshd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-b.sshd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	os.Truncate(filepath.Join(b.Dir, "sshd.log"), 0)
}

// KillSessions kills every ssh session of the board (as a cable pulled
// out would end them), leaving the listener up.
func (b *Board) KillSessions() int {
	pid := b.sshdPID()
	n := 0
	for _, c := range descendants(pid) {
		if syscall.Kill(c, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}

func (b *Board) sshdPID() int {
	raw, err := os.ReadFile(filepath.Join(b.Dir, "sshd.pid"))
	if err != nil {
		return b.sshd.Process.Pid
	}
	// sshd writes its pid file after it says it listens: read in between,
	// the file is there but empty (nsenter --target 0 then fails).
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return b.sshd.Process.Pid // sshd -D is the process started (exec all along)
	}
	return pid
}

// descendants lists every process below pid.
func descendants(pid int) []int {
	parent := map[int]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		rest := stat[bytes.LastIndexByte(stat, ')')+1:]
		f := strings.Fields(string(rest))
		if len(f) > 1 {
			parent[p], _ = strconv.Atoi(f[1])
		}
	}
	var out []int
	var walk func(int)
	walk = func(p int) {
		for c, pp := range parent {
			if pp == p {
				out = append(out, c)
				walk(c)
			}
		}
	}
	walk(pid)
	return out
}

// HostSideInto moves this side of the board's veth (HostAddr) into the
// network namespace netns: a client there reaches the board and nothing
// else (no default route), as a field laptop with only the board's cable.
// The board's teardown deletes the pair with the board's namespace.
func (b *Board) HostSideInto(netns string) {
	b.t.Helper()
	b.ip("link", "set", b.veth+"h", "netns", netns)
	b.ip("-n", netns, "addr", "add", b.HostAddr+"/24", "dev", b.veth+"h")
	b.ip("-n", netns, "link", "set", b.veth+"h", "up")
	b.ip("-n", netns, "link", "set", "lo", "up")
}

// ChangeHostKey gives the board a new host key, as a reflash does.
func (b *Board) ChangeHostKey() {
	b.t.Helper()
	b.Stop()
	b.keygen("hostkey")
	b.writeEtcSSH()
	b.Start()
}

// Inside is where the board sees Dir (its /tmp is its own).
const Inside = inside

// Command is a command run on the board itself, as its console would run
// it: in its network and mount namespaces (its /nix, its /etc/ssh), as
// root, with the test's environment and a PATH that finds the board's
// tools. The board must be running (Start).
func (b *Board) Command(name string, args ...string) *exec.Cmd {
	b.t.Helper()
	pid := strconv.Itoa(b.sshdPID())
	cmd := exec.Command("nsenter", append([]string{"--target", pid, "--mount", "--net", "--", name}, args...)...)
	cmd.Env = append(os.Environ(), "PATH=/run/current-system/sw/bin:"+os.Getenv("PATH"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

// HostKeyFingerprint is the board's SHA256 host key fingerprint.
func (b *Board) HostKeyFingerprint() string { return b.fingerprint("hostkey.pub") }

// RSAFingerprint is the fingerprint of the board's RSA host key.
func (b *Board) RSAFingerprint() string { return b.fingerprint("hostkey_rsa.pub") }

func (b *Board) fingerprint(file string) string {
	b.t.Helper()
	out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", filepath.Join(b.Dir, file)).Output()
	must(b.t, err)
	return strings.Fields(string(out))[1]
}

// HostKey is the board's host public key.
func (b *Board) HostKey() ssh.PublicKey {
	b.t.Helper()
	raw, err := os.ReadFile(filepath.Join(b.Dir, "hostkey.pub"))
	must(b.t, err)
	k, _, _, _, err := ssh.ParseAuthorizedKey(raw)
	must(b.t, err)
	return k
}

// Valid reports whether path is in the board's store (root "" or "/mnt").
func (b *Board) Valid(root, path string) bool {
	store := "local?root=" + b.Dir
	if root == "/mnt" {
		store = "local?root=" + filepath.Join(b.Dir, "mnt")
	}
	// The board's /nix is b.Dir/nix, so its store is the chroot store b.Dir.
	return exec.Command("nix-store", "--store", store, "--check-validity", path).Run() == nil
}

// Read reads a file under the board's /nix.
func (b *Board) Read(rel string) string {
	raw, _ := os.ReadFile(filepath.Join(b.NixDir, rel))
	return string(raw)
}

// FailActivation makes the test system's switch-to-configuration fail.
func (b *Board) FailActivation() {
	must(b.t, os.MkdirAll(filepath.Join(b.NixDir, "var"), 0o755))
	must(b.t, os.WriteFile(filepath.Join(b.NixDir, "var", "jetup-fail-activation"), nil, 0o644))
}

// WipeStore empties the board's /nix (between benchmark rounds).
func (b *Board) WipeStore() {
	must(b.t, os.RemoveAll(b.NixDir))
	must(b.t, os.MkdirAll(b.NixDir, 0o755))
	b.Stop()
	b.Start()
}

func (b *Board) teardown() {
	b.Stop()
	_ = exec.Command("ip", "netns", "del", b.Name).Run()
	_ = exec.Command("ip", "link", "del", b.veth+"h").Run()
	if b.lock != nil {
		b.lock.Close()
	}
}
