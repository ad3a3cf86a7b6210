package image

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jetup/jetup/media"
	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// Edge is what update needs of the hardware: the way to the board and
// this machine's commands (gpgv, openssl).
type Edge struct {
	SSH    remote.Dialer
	Runner proc.Runner
}

// UpdateOptions are `jetup update`'s flags.
type UpdateOptions struct {
	Target remote.Target
	Trust  remote.Trust
	// Path is a sysupdate directory or a .swu file.
	Path string
	// GPGKey checks SHA256SUMS.gpg (a sysupdate directory) before
	// anything is sent; VerifyKey checks sw-description.sig (a .swu): an
	// RSA public key (PEM) or, for CMS signatures, the CA certificate.
	GPGKey, VerifyKey string
	// BoardDir is where the board's sysupdate transfer files take their
	// sources from ([Source] Path=); found on the board when "".
	BoardDir string
	// Reboot is asked once the update is applied; nil never reboots.
	Reboot func(ctx context.Context, version string) bool
	// Log receives the board's own output.
	Log io.Writer
}

// UpdateResult is the run record's details.
type UpdateResult struct {
	Kind      string   `json:"kind"`
	Board     string   `json:"board"`
	Arch      string   `json:"arch,omitempty"`
	HWRev     string   `json:"hwrevision,omitempty"`
	Before    string   `json:"version_before,omitempty"`
	Version   string   `json:"version,omitempty"`
	Sent      []string `json:"sent"`
	Skipped   []string `json:"skipped,omitempty"` // already on the board
	Bytes     int64    `json:"bytes_sent"`
	Signature string   `json:"signature"`
	ExitCode  int      `json:"exit_code"`
	Rebooted  bool     `json:"rebooted,omitempty"`
}

// UpdateStage is a stage of the update, for the headless face and JSON.
type UpdateStage struct {
	At      time.Time `json:"at"`
	Stage   string    `json:"stage"`
	Message string    `json:"message"`
}

func (s UpdateStage) Text() string { return s.Stage + ": " + s.Message }

func stage(sink step.Sink, name, format string, a ...any) {
	sink.Emit(UpdateStage{At: time.Now(), Stage: name, Message: fmt.Sprintf(format, a...)})
}

// Update checks an update on this machine (hashes, and signatures when a
// key is given), then over the pinned SSH connection checks it fits the
// board, sends what the board lacks and applies it with the board's own
// updater: systemd-sysupdate for a sysupdate directory, swupdate -i for a
// .swu. Nothing is sent before every check passed (exit 2 otherwise).
func Update(ctx context.Context, e Edge, o UpdateOptions, sink step.Sink) (*UpdateResult, error) {
	rep, err := Inspect(ctx, o.Path, Options{Runner: e.Runner})
	if err != nil {
		return nil, err
	}
	if rep.Kind == KindDisk {
		return nil, step.Refuse("update-format", "pass a sysupdate directory (files and SHA256SUMS) or a .swu bundle; a disk image is written with jetup write",
			"%s is a disk image, not an update", o.Path)
	}
	if !rep.OK() {
		p := rep.Problems[0]
		return nil, step.Refuse("update-inconsistent", "fix or fetch the update again; jetup inspect lists every problem",
			"%s: %s (%d problem(s)); nothing was sent", p.Entry, p.What, len(rep.Problems))
	}
	res := &UpdateResult{Kind: rep.Kind, Board: o.Target.String(), Sent: []string{}}
	if res.Signature, err = checkSignature(ctx, e.Runner, rep, o); err != nil {
		return res, err
	}
	if strings.HasPrefix(res.Signature, "not checked") {
		sink.Emit(step.Warning{At: time.Now(), Warning: "nothing was signature-checked: " + strings.TrimPrefix(res.Signature, "not checked: "),
			Next: "pass --gpg-key (sysupdate) or --verify-key (.swu) to check the signature before anything is sent"})
	} else {
		stage(sink, "signature", "%s", res.Signature)
	}
	files, err := localFiles(rep)
	if err != nil {
		return res, err
	}
	stage(sink, "connect", "connecting to %s", o.Target)
	conn, _, err := remote.Connect(ctx, e.SSH, o.Target, o.Trust,
		remote.DialOptions{Script: boardScript(rep.Kind, o.BoardDir), Log: o.Log}, sink)
	if err != nil {
		return res, err
	}
	defer conn.Close()
	bs := newBoardShell(conn, o.Log)
	probe, err := bs.probe(ctx)
	if err != nil {
		return res, err
	}
	res.Arch, res.HWRev, res.Before = probe.one("arch"), probe.one("hwrevision"), probe.one("version")
	if err := fits(rep, probe, o); err != nil {
		bs.quit()
		return res, err
	}
	have := map[string]string{}
	for _, h := range probe["have"] {
		sum, name, _ := strings.Cut(h, " ")
		have[name] = sum
	}
	var send []localFile
	var total int64
	for _, f := range files {
		if have[f.name] == f.sha256 {
			res.Skipped = append(res.Skipped, f.name)
			continue
		}
		send, total = append(send, f), total+f.size
	}
	if free, err := strconv.ParseInt(probe.one("free"), 10, 64); err == nil && free < total {
		bs.quit()
		return res, step.Refuse("board-full", "free space on the board, then run it again",
			"%s needs %s on the board and %s has %s free; nothing was sent", o.Path, media.HumanIEC(total), probe.one("dir"), media.HumanIEC(free))
	}
	stage(sink, "send", "sending %d file(s), %s (%d already on the board)", len(send), media.HumanIEC(total), len(res.Skipped))
	var done int64
	for _, f := range send {
		if err := bs.send(ctx, f, func(n int64) {
			sink.Emit(step.Progress{At: time.Now(), Phase: "send", Done: done + n, Total: total, Unit: "bytes"})
		}); err != nil {
			return res, err
		}
		done += f.size
		res.Sent, res.Bytes = append(res.Sent, f.name), done
	}
	applyName := ""
	if rep.Kind == KindSWU {
		applyName = filepath.Base(o.Path)
		stage(sink, "apply", "swupdate -v -i %s", applyName)
	} else {
		stage(sink, "apply", "systemd-sysupdate update")
	}
	code, last, version, err := bs.apply(ctx, applyName, sink)
	res.ExitCode = code
	if err != nil {
		return res, err
	}
	if code != 0 {
		return res, applyError(rep.Kind, code, last)
	}
	res.Version = version
	if res.Version == "" && rep.SWU != nil {
		res.Version = rep.SWU.Version
	}
	if res.Version == "" {
		stage(sink, "done", "systemd-sysupdate found nothing newer than %s to install on %s", orDash(res.Before), o.Target)
		bs.quit()
		return res, nil
	}
	stage(sink, "done", "version %s installed on %s (was %s); it runs after a reboot", orDash(res.Version), o.Target, orDash(res.Before))
	if o.Reboot != nil && o.Reboot(ctx, res.Version) {
		res.Rebooted = true
		_ = conn.Send("reboot\n")
		stage(sink, "reboot", "%s is rebooting into %s", o.Target, orDash(res.Version))
		_ = conn.Wait()
		return res, nil
	}
	bs.quit()
	return res, nil
}

// applyError explains the updater's exit code with its last error line.
func applyError(kind string, code int, last string) error {
	if kind == KindSWU {
		return &step.Error{Cause: "swupdate-failed", Code: step.ExitFailed,
			What: fmt.Sprintf("swupdate -i exited %d (it installs nothing on a failure: the running system is untouched); its last error: %s", code, orDash(last)),
			Next: "read update.log in the run record; fix what the error names (space, handler, hardware) and run it again"}
	}
	return &step.Error{Cause: "sysupdate-failed", Code: step.ExitFailed,
		What: fmt.Sprintf("systemd-sysupdate update exited %d; its last words: %s", code, orDash(last)),
		Next: "read update.log in the run record; `systemd-sysupdate list` on the board shows what it found"}
}

type localFile struct {
	name, path, sha256 string
	size               int64
}

// localFiles is what may be sent, each with the hash that was checked.
func localFiles(rep *Report) ([]localFile, error) {
	var out []localFile
	add := func(name, path, sum string, size int64) error {
		if !safeName.MatchString(name) {
			return step.Refuse("update-name", "rename the file: letters, digits and . _ + ~ ^ @ - only", "%q cannot be sent as a file name", name)
		}
		out = append(out, localFile{name: name, path: path, sha256: sum, size: size})
		return nil
	}
	if rep.Kind == KindSWU {
		sum, size, err := hashFile(rep.File)
		if err != nil {
			return nil, err
		}
		return out, add(filepath.Base(rep.File), rep.File, sum, size)
	}
	for _, f := range rep.Sysupdate.Files {
		if err := add(f.Filename, filepath.Join(rep.File, f.Filename), f.SHA256, f.Size); err != nil {
			return nil, err
		}
	}
	for _, n := range []string{"SHA256SUMS", "SHA256SUMS.gpg"} {
		p := filepath.Join(rep.File, n)
		if sum, size, err := hashFile(p); err == nil {
			if err := add(n, p, sum, size); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// fits checks the board can take the update: its updater is there, the
// sysupdate source directory is known, a .swu's hardware-compatibility
// names the board's /etc/hwrevision revision (and its architecture, when
// the list names one).
func fits(rep *Report, p probe, o UpdateOptions) error {
	tools := map[string]bool{}
	for _, t := range p["tool"] {
		name, _, _ := strings.Cut(t, " ")
		tools[name] = true
	}
	if rep.Kind == KindSysupdate {
		if !tools["systemd-sysupdate"] {
			return step.Refuse("board-no-sysupdate", "the board's system needs systemd-sysupdate and transfer files in /etc/sysupdate.d",
				"%s has no systemd-sysupdate; nothing was sent", o.Target)
		}
		if p.one("dir") == "" {
			return step.Refuse("board-no-source", "pass --board-dir with the Path= of the [Source] section of the board's transfer files",
				"cannot tell where %s's sysupdate takes its sources from (no single [Source] Path= in its transfer files: %s); nothing was sent",
				o.Target, orDash(strings.Join(p["source"], "; ")))
		}
		return nil
	}
	if !tools["swupdate"] {
		return step.Refuse("board-no-swupdate", "the board needs SWUpdate installed", "%s has no swupdate; nothing was sent", o.Target)
	}
	return hwCompatible(rep.SWU.HardwareCompatibility, p.one("hwrevision"), p.one("arch"), o.Target.String())
}

// archNames are hardware-compatibility entries that name an architecture.
var archNames = map[string]string{"arm64": "aarch64", "aarch64": "aarch64", "x86_64": "x86_64", "amd64": "x86_64",
	"armhf": "armv7l", "armv7l": "armv7l", "riscv64": "riscv64"}

// hwCompatible checks as SWUpdate does: /etc/hwrevision is "BOARD
// REVISION", and the revision must be one the bundle lists (an entry
// "#RE:..." is a regular expression); an entry that names an architecture
// must match the board's uname -m.
func hwCompatible(list []string, hwrev, arch, board string) error {
	var revs, arches []string
	for _, h := range list {
		if a, ok := archNames[strings.ToLower(h)]; ok {
			arches = append(arches, a)
		} else {
			revs = append(revs, h)
		}
	}
	if len(arches) > 0 && !contains(arches, arch) {
		return step.Refuse("hw-incompatible", "use the bundle built for "+arch,
			"the bundle is for %s and %s is %s; nothing was sent", strings.Join(arches, ", "), board, orDash(arch))
	}
	if len(revs) == 0 {
		return nil
	}
	fields := strings.Fields(hwrev)
	if len(fields) < 2 {
		return step.Refuse("hw-incompatible", "SWUpdate reads /etc/hwrevision (\"BOARD REVISION\"): the board's image must provide it",
			"the bundle needs hardware revision %s and %s has no /etc/hwrevision; nothing was sent", strings.Join(revs, ", "), board)
	}
	rev := fields[1]
	for _, r := range revs {
		if re, ok := strings.CutPrefix(r, "#RE:"); ok {
			if m, err := regexp.MatchString(re, rev); err == nil && m {
				return nil
			}
		} else if r == rev {
			return nil
		}
	}
	return step.Refuse("hw-incompatible", "use the bundle built for this board's hardware revision",
		"%s is %s revision %s; the bundle is for revision %s; nothing was sent", board, fields[0], rev, strings.Join(revs, ", "))
}

// checkSignature checks a signature on this machine when a key is given.
func checkSignature(ctx context.Context, r proc.Runner, rep *Report, o UpdateOptions) (string, error) {
	run := func(name string, args ...string) (string, error) {
		if r == nil {
			return "", errors.New("no runner")
		}
		if _, err := r.LookPath(name); err != nil {
			return "", fmt.Errorf("%s is not installed on this machine", name)
		}
		out, err := r.Command(ctx, name, args...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	switch rep.Kind {
	case KindSysupdate:
		sig := filepath.Join(rep.File, "SHA256SUMS.gpg")
		if o.GPGKey == "" {
			if rep.Sysupdate.Signed {
				return "not checked: SHA256SUMS.gpg is there but no --gpg-key was given", nil
			}
			return "not checked: the directory is not signed (no SHA256SUMS.gpg)", nil
		}
		if !rep.Sysupdate.Signed {
			return "", step.Refuse("signature-missing", "sign it (gpg --detach-sign -o SHA256SUMS.gpg SHA256SUMS), or leave out --gpg-key",
				"--gpg-key was given but %s has no SHA256SUMS.gpg; nothing was sent", rep.File)
		}
		keyring, cleanup, err := gpgKeyring(ctx, r, o.GPGKey)
		if err != nil {
			return "", step.Refuse("signature-key", "pass a public key exported with gpg --export (armored or not)", "--gpg-key %s: %v", o.GPGKey, err)
		}
		defer cleanup()
		if out, err := run("gpgv", "--keyring", keyring, sig, filepath.Join(rep.File, "SHA256SUMS")); err != nil {
			return "", step.Refuse("signature-bad", "the update was changed or signed with another key: fetch it again, or check the key",
				"SHA256SUMS.gpg does not verify with %s: %s; nothing was sent", o.GPGKey, lastLine(out))
		}
		return "SHA256SUMS.gpg verified with " + filepath.Base(o.GPGKey) + " (gpgv)", nil
	default:
		s := rep.SWU
		if o.VerifyKey == "" {
			if s.Signed {
				return "not checked: sw-description.sig is there but no --verify-key was given", nil
			}
			return "not checked: the bundle is not signed (no sw-description.sig)", nil
		}
		if !s.Signed {
			return "", step.Refuse("signature-missing", "sign sw-description as SWUpdate expects, or leave out --verify-key",
				"--verify-key was given but the bundle has no sw-description.sig; nothing was sent")
		}
		dir, err := os.MkdirTemp("", "jetup-swu-sig-")
		if err != nil {
			return "", err
		}
		defer os.RemoveAll(dir)
		desc, sig := filepath.Join(dir, "sw-description"), filepath.Join(dir, "sw-description.sig")
		if err := errors.Join(os.WriteFile(desc, s.description, 0o600), os.WriteFile(sig, s.sig, 0o600)); err != nil {
			return "", err
		}
		key, err := safe.ReadFile(o.VerifyKey, maxKeyFile)
		if err != nil {
			return "", step.Refuse("signature-key", "check the --verify-key path", "%v", err)
		}
		var out string
		how := "RSA (openssl dgst -sha256 -verify)"
		if strings.Contains(string(key), "BEGIN CERTIFICATE") {
			// CMS: SWUpdate checks the signature against its CA file (-k).
			how = "CMS (openssl cms -verify)"
			out, err = run("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", sig, "-content", desc,
				"-CAfile", o.VerifyKey, "-purpose", "any", "-out", os.DevNull)
		} else {
			out, err = run("openssl", "dgst", "-sha256", "-verify", o.VerifyKey, "-signature", sig, desc)
		}
		if err != nil {
			return "", step.Refuse("signature-bad", "the bundle was changed or signed with another key: fetch it again, or check the key",
				"sw-description.sig does not verify with %s as %s: %s; nothing was sent", o.VerifyKey, how, lastLine(out))
		}
		return "sw-description.sig verified as " + how + " with " + filepath.Base(o.VerifyKey), nil
	}
}

// maxKeyFile bounds a --verify-key file: a PEM key or certificate is a few
// KiB, an exported GPG key with its signatures some hundred.
const maxKeyFile = 1 << 20

// gpgKeyring makes a keyring gpgv reads from an exported key (gpgv wants
// the binary form: an armored key is dearmored first).
func gpgKeyring(ctx context.Context, r proc.Runner, key string) (string, func(), error) {
	b, err := safe.ReadFile(key, maxKeyFile)
	if err != nil {
		return "", nil, err
	}
	if !strings.Contains(string(b), "-----BEGIN PGP PUBLIC KEY BLOCK-----") {
		return key, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "jetup-gpg-")
	if err != nil {
		return "", nil, err
	}
	out := filepath.Join(dir, "key.gpg")
	cmd := r.Command(ctx, "gpg", "--batch", "--dearmor", "--output", out, key)
	if msg, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("gpg --dearmor: %s", lastLine(string(msg)))
	}
	return out, func() { os.RemoveAll(dir) }, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return clean(trunc(s, 300))
}

// probe is what the board shell said before "ready".
type probe map[string][]string

func (p probe) one(k string) string {
	if v := p[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// boardShell talks to the board script over the connection.
type boardShell struct {
	conn  remote.Conn
	lines chan string
	log   io.Writer
}

const maxBoardLine = 64 << 10

func newBoardShell(conn remote.Conn, log io.Writer) *boardShell {
	bs := &boardShell{conn: conn, lines: make(chan string, 256), log: log}
	go func() {
		defer close(bs.lines)
		rd := bufio.NewReaderSize(conn.Output(), maxBoardLine)
		for { // to EOF, whatever a line looks like: long lines are cut, never stop the reader
			line, err := rd.ReadSlice('\n')
			s := strings.TrimRight(string(line), "\r\n")
			if errors.Is(err, bufio.ErrBufferFull) {
				for errors.Is(err, bufio.ErrBufferFull) {
					_, err = rd.ReadSlice('\n')
				}
			}
			if s != "" || err == nil {
				if log != nil {
					fmt.Fprintln(log, clean(s))
				}
				bs.lines <- s
			}
			if err != nil {
				return
			}
		}
	}()
	return bs
}

func (bs *boardShell) next(ctx context.Context) (string, error) {
	select {
	case l, ok := <-bs.lines:
		if !ok {
			return "", fmt.Errorf("the board's shell ended: %w", remote.ErrConnectionLost)
		}
		return l, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// kv reads a board-shell answer with its value cleaned for display; ok
// only when the line has a value ("jetup:key=value").
func kv(line string) (string, string, bool) {
	k, v, ok := remote.Answer(line)
	return k, clean(v), ok && strings.Contains(line, "=")
}

func (bs *boardShell) probe(ctx context.Context) (probe, error) {
	p := probe{}
	for {
		l, err := bs.next(ctx)
		if err != nil {
			return nil, step.Errorf("board-lost", "check the board's network and run it again", "the board stopped answering during its probe: %v", err)
		}
		k, v, ok := kv(l)
		if !ok {
			continue
		}
		if k == "fail" {
			return nil, step.Errorf("board-failed", "see update.log in the run record", "the board: %s", v)
		}
		if k == "ready" {
			return p, nil
		}
		p[k] = append(p[k], v)
	}
}

func (bs *boardShell) quit() { _ = bs.conn.Send("quit\n") }

// send streams one file and waits for the board to say it has it with
// the same sha256.
func (bs *boardShell) send(ctx context.Context, f localFile, progress func(int64)) error {
	in, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := bs.conn.Send(fmt.Sprintf("recv %s %d %s\n", f.name, f.size, f.sha256)); err != nil {
		return sendErr(f.name, err)
	}
	buf := make([]byte, 256<<10)
	var n int64
	for n < f.size {
		k, err := in.Read(buf[:min(int64(len(buf)), f.size-n)])
		if k > 0 {
			if err := bs.conn.Send(string(buf[:k])); err != nil {
				return sendErr(f.name, err)
			}
			n += int64(k)
			progress(n)
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", f.path, err)
		}
	}
	for {
		l, err := bs.next(ctx)
		if err != nil {
			return sendErr(f.name, err)
		}
		switch k, v, _ := kv(l); k {
		case "got":
			return nil
		case "bad":
			return step.Errorf("copy-corrupt", "check the link and the board's storage, then run it again",
				"%s arrived with sha256 %s, not %s: it was removed on the board and nothing was applied", f.name, strings.TrimPrefix(v, f.name+" "), f.sha256)
		case "fail":
			return step.Errorf("board-failed", "see update.log in the run record", "the board: %s", v)
		}
	}
}

func sendErr(name string, err error) error {
	return step.Errorf("board-lost", "check the board's network and run it again: what arrived whole is not sent twice",
		"the connection broke while sending %s: %v; nothing was applied", name, err)
}

// Progress from the updaters' own lines: systemd-sysupdate's
// "Successfully installed update 'V'." and its acquiring lines, swupdate's
// notifier lines ("[INFO ] : SWUPDATE running :  ...", "SWUPDATE
// successful !", "[ERROR] : SWUPDATE failed [N] ...").
var (
	sysupdateInstalled = regexp.MustCompile(`Successfully installed update '([^']{1,80})'`)
	sysupdateSelected  = regexp.MustCompile(`Selected update '([^']{1,80})' for install`)
)

func (bs *boardShell) apply(ctx context.Context, name string, sink step.Sink) (code int, last, version string, err error) {
	if err := bs.conn.Send(fmt.Sprintf("apply %s\n", name)); err != nil {
		return -1, "", "", sendErr("the apply command", err)
	}
	for {
		l, err := bs.next(ctx)
		if err != nil {
			return -1, last, version, step.Errorf("board-lost", "the update may still be running on the board: look at it before running again",
				"the connection broke while the update was applied: %v", err)
		}
		if k, v, ok := kv(l); ok && k == "exit" {
			code, _ = strconv.Atoi(v)
			return code, last, version, nil
		}
		line := clean(l)
		sink.Emit(step.Log{At: time.Now(), Line: line})
		switch {
		case sysupdateInstalled.MatchString(line):
			version = sysupdateInstalled.FindStringSubmatch(line)[1]
			stage(sink, "apply", "%s", strings.TrimLeft(line, "✨ "))
		case sysupdateSelected.MatchString(line):
			stage(sink, "apply", "%s", line)
		case strings.Contains(line, "Acquiring "), strings.Contains(line, "Successfully acquired"):
			stage(sink, "apply", "%s", strings.TrimLeft(line, "⤵️ "))
		case strings.Contains(line, "SWUPDATE successful"):
			stage(sink, "apply", "SWUpdate: successful")
		case strings.Contains(line, "Installation failed") && last != "":
			// SWUpdate's closing line; the line before it names the cause.
		case strings.Contains(line, "[ERROR]"), strings.Contains(line, "Failed"), strings.Contains(line, "failed"):
			last = line
		case strings.Contains(line, "SWUPDATE running") && strings.Contains(line, "Installation in progress"):
			stage(sink, "apply", "SWUpdate: installation in progress")
		}
	}
}
