package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/serialcon"
	"github.com/jetup/jetup/step"
)

type consoleFlags struct {
	port, log, until, send, sendAt, from, parity string
	baud, dataBits, stopBits                     int
	timeout                                      time.Duration
	list, noReconnect                            bool
	setupSSH                                     bool
	sshUser, identity                            string
}

func (a *app) consoleCommand() *cobra.Command {
	var f consoleFlags
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Watch the board's serial console: stages, facts, a timestamped log",
		Long: `Open the board's debug serial console (115200 8N1 unless told otherwise) and
print what it says. Without --port, jetup picks the port that best fits
--profile (the devkit's debug MCU or USB-TTL adapter; never the flash gadget)
and says why; --list shows the ranking. The port is opened exclusively; when
the device goes away (unplugged, board powered off) jetup waits for it to come
back under the same /dev/serial/by-id name, or the same USB id and serial
number, and carries on in the same log.

Boot stages are recognised as they pass: mb1, mb2, uefi, uefi-menu, kernel,
nixos-stage-1, nixos-stage-2, login, shell; and facts: firmware-version,
nixos-version, hostname, ip, error (and host-key). The board's bytes go to
stdout as they come, escape sequences included (a live console is a
terminal: colours, cursor moves and what the board's programs send reach
yours); jetup's notes go to stderr with control characters removed, as
does everything read back from a saved log with --from; --json prints one JSON line per stage
({"stage","at","line"}), fact ({"fact","value","at"}) and connection event
instead. Every run keeps console.raw (the bytes) and console.log (a line per
line, with its UTC time) in its run record.

--until STAGE|REGEX stops at a stage or at a line matching the expression
(also a prompt waiting without a newline); --send writes TEXT once connected
(\r \n \e \t \\ \xHH escapes), or when the boot reaches --send-at STAGE
(--send '\e' --send-at uefi-menu stops in the firmware's menu);
--from FILE reads a saved log instead of a port.

--setup-ssh types, at the board's shell prompt, what lets the push log in:
your SSH public key appended to --ssh-user's authorized_keys (the --identity's
.pub, else ~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub, else the
ssh-agent's first key; through sudo -n unless the shell is root's), then the
board's host key fingerprints, the ed25519 one last, which become the
host-key fact (the value for jetup push --accept-host-key). It goes out once
connected, or at --send-at STAGE (shell: when the boot reaches the prompt).

Exit status: 0 when --until matched (or Ctrl-C ended a console without
one), 1 on --timeout (before --until matched, or at all without --until)
and when --until was not seen by the end of --from FILE, 2 when the port
cannot be opened or never appeared.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := a.profile(false)
			if err != nil {
				return err
			}
			if f.list {
				return a.listPorts(p)
			}
			until, err := serialcon.ParseUntil(f.until)
			if err != nil {
				return step.Refuse("usage", "pass a stage id or a valid regular expression", "%v", err)
			}
			if f.from != "" {
				return a.scanLog(f.from, until)
			}
			send, err := serialcon.ParseEscapes(f.send)
			if err != nil {
				return step.Refuse("usage", "fix the --send text", "%v", err)
			}
			var note step.Event
			if f.setupSSH {
				if f.send != "" {
					return step.Refuse("usage", "use one of them", "--send and --setup-ssh both type to the board")
				}
				if send, note, err = consoleSSHSetup(cmd.Context(), f); err != nil {
					return err
				}
			}
			if f.sendAt != "" && !serialcon.IsStage(f.sendAt) {
				return step.Refuse("usage", "use one of: "+strings.Join(serialcon.Stages, ", "), "--send-at %q is not a stage", f.sendAt)
			}
			profile := a.profileName
			if p != nil {
				profile = p.Name
			}
			return a.recordStep(step.Console, profile, func(rs *runrec.Step) (runrec.Outcome, string, error) {
				return a.runConsole(cmd, rs, p, f, until, send, note)
			})
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.port, "port", "", "serial port (a /dev/serial/by-id name survives re-plugging best); default: the best fit for --profile")
	fl.IntVar(&f.baud, "baud", 115200, "line speed")
	fl.IntVar(&f.dataBits, "data-bits", 8, "data bits (5-8)")
	fl.StringVar(&f.parity, "parity", "none", "parity: none, odd, even, mark, space")
	fl.IntVar(&f.stopBits, "stop-bits", 1, "stop bits (1 or 2)")
	fl.StringVar(&f.log, "log", "", "also write the timestamped text log to FILE")
	fl.StringVar(&f.until, "until", "", "stop at this stage ("+strings.Join(serialcon.Stages, ", ")+") or at a line matching this regular expression")
	fl.StringVar(&f.send, "send", "", "write TEXT once connected (escapes: \\r \\n \\e \\t \\\\ \\xHH)")
	fl.StringVar(&f.sendAt, "send-at", "", "hold --send until the boot reaches this stage (uefi-menu: stop in the firmware menu)")
	fl.DurationVar(&f.timeout, "timeout", 0, "give up after this long (0: run until --until or Ctrl-C)")
	fl.BoolVar(&f.list, "list", false, "list the serial ports, best fit for --profile first, and exit")
	fl.StringVar(&f.from, "from", "", "recognise stages and facts in a saved log (raw capture or jetup's console.log) instead of a port")
	fl.BoolVar(&f.noReconnect, "no-reconnect", false, "end when the device goes away instead of waiting for it")
	fl.BoolVar(&f.setupSSH, "setup-ssh", false, "type at the board's shell: your SSH public key for --ssh-user, then the host key fingerprints")
	fl.StringVar(&f.sshUser, "ssh-user", "root", "with --setup-ssh: the user the push logs in as")
	fl.StringVar(&f.identity, "identity", "", "with --setup-ssh: the push's private key file (its .pub is typed in; default: ~/.ssh/id_*.pub, then the agent)")
	_ = cmd.RegisterFlagCompletionFunc("until", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return serialcon.Stages, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// consoleSSHSetup is --setup-ssh's text (deploy.ConsoleSetup, as the
// wizard's k types it). Without a public key only the host keys are asked
// for, and note says why and what to do.
func consoleSSHSetup(ctx context.Context, f consoleFlags) ([]byte, step.Event, error) {
	var note step.Event
	var key *deploy.LoginKey
	k, err := deploy.FindLoginKey(ctx, deploy.KeyLookup{Identity: f.identity})
	if err != nil {
		note = step.Warning{At: time.Now(), Warning: "no SSH key typed in, only the host keys asked for: " + err.Error(), Next: step.NextOf(err)}
	} else {
		key = &k
	}
	typed, err := deploy.ConsoleSetup(f.sshUser, key)
	if err != nil {
		return nil, nil, step.Refuse("usage", "pass the push's login user with --ssh-user", "%v", err)
	}
	return typed, note, nil
}

func (a *app) runConsole(cmd *cobra.Command, rs *runrec.Step, p *profiles.Profile, f consoleFlags, until *serialcon.Until, send []byte, note step.Event) (runrec.Outcome, string, error) {
	raw, err := rs.OpenLog("raw")
	if err != nil {
		return "", "", step.Refuse("state-dir", "pass --state-dir with a writable directory", "%v", err)
	}
	defer raw.Close()
	text, err := rs.OpenLog("log")
	if err != nil {
		return "", "", step.Refuse("state-dir", "pass --state-dir with a writable directory", "%v", err)
	}
	defer text.Close()
	var textLog io.Writer = text
	if f.log != "" {
		extra, err := os.Create(f.log)
		if err != nil {
			return "", "", step.Refuse("log-file", "pass a --log path in a writable directory", "cannot write the log: %v", err)
		}
		defer extra.Close()
		textLog = io.MultiWriter(text, extra)
	}
	con := serialcon.New(serialcon.Options{
		Ports: a.hardware().Serial, Profile: p, Port: f.port, Until: until, Send: send, SendAt: f.sendAt, Timeout: f.timeout,
		Config: serialcon.Config{Baud: f.baud, DataBits: f.dataBits, Parity: f.parity, StopBits: f.stopBits},
		RawLog: raw, TextLog: textLog, NoReconnect: f.noReconnect,
	})
	pr := &consolePrinter{out: a.stdout, raw: a.rawStdout, notes: a.stderr, json: a.json, sameTerminal: a.rawStdout == io.Writer(os.Stdout)}
	if note != nil {
		pr.Emit(note)
	}
	res, err := con.Run(cmd.Context(), pr)
	_ = rs.SetDetails(res)
	summary := consoleSummary(res)
	switch {
	case err == nil:
		return runrec.Success, summary, nil
	case errors.Is(err, cmd.Context().Err()) && cmd.Context().Err() != nil:
		// Ctrl-C is how a console is left: fine, unless --until was waited
		// for and never came, or no port was ever opened.
		if until != nil || res.Port == "" {
			return runrec.Cancelled, summary, silent(step.ExitFailed)
		}
		return runrec.Success, summary, nil
	}
	return "", summary, err
}

// consoleSummary is the run record's one line: how far the boot got.
func consoleSummary(r serialcon.Result) string {
	var parts []string
	if s := r.LastStage(); s != "" {
		parts = append(parts, "reached "+s)
	} else if r.Port != "" {
		parts = append(parts, "no boot stage seen")
	}
	for _, k := range []string{serialcon.FactHostname, serialcon.FactIP, serialcon.FactError} {
		if v := r.Last(k); v != "" {
			parts = append(parts, k+" "+v)
		}
	}
	for _, f := range r.Findings {
		parts = append(parts, "finding "+f.Finding)
	}
	if r.Reconnects > 0 {
		parts = append(parts, fmt.Sprintf("%d reconnects", r.Reconnects))
	}
	return strings.Join(parts, "; ")
}

// consolePrinter is the headless face: the stream raw on stdout and notes on
// stderr, or JSON lines for stages, facts and connection events. The
// board's stream is passed through as it came (raw), escape sequences and
// all: that is what a terminal is for. Everything else (a stage's line, a
// fact) is jetup speaking and goes through the sanitized writers.
type consolePrinter struct {
	mu           sync.Mutex
	out, notes   io.Writer
	raw          io.Writer // the board's stream; nil: not printed
	json         bool
	sameTerminal bool // out and notes are the process's stdout and stderr
	midLine      bool
}

func (p *consolePrinter) Emit(e step.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if o, ok := e.(serialcon.Output); ok {
		if !p.json && p.raw != nil {
			_, _ = p.raw.Write(o.Data)
			p.midLine = len(o.Data) > 0 && o.Data[len(o.Data)-1] != '\n'
		}
		return
	}
	if p.json {
		b, err := json.Marshal(e)
		if err == nil {
			_, _ = p.out.Write(append(b, '\n'))
		}
		return
	}
	if p.midLine && p.sameTerminal {
		// On one terminal, a note starts on its own line.
		fmt.Fprintln(p.notes)
		p.midLine = false
	}
	switch e := e.(type) {
	case serialcon.Stage:
		fmt.Fprintf(p.notes, "jetup: stage %s: %s\n", e.Stage, safe.Text(e.Line))
	case serialcon.Fact:
		fmt.Fprintf(p.notes, "jetup: %s: %s\n", e.Fact, safe.Text(e.Value))
	default:
		if t := e.Text(); t != "" {
			if !strings.HasPrefix(t, "jetup: ") {
				t = "jetup: " + t
			}
			fmt.Fprintln(p.notes, safe.Text(t))
		}
	}
}

// listPorts prints the serial ports ranked for the profile.
func (a *app) listPorts(p *profiles.Profile) error {
	ports, err := a.hardware().Serial.List()
	if err != nil {
		return step.Errorf(string(serialcon.CausePortList), "check that /sys and /dev are readable", "%v", err)
	}
	cands := serialcon.Rank(ports, p)
	if a.json {
		if cands == nil {
			cands = []serialcon.Candidate{}
		}
		return writeJSON(a.stdout, cands)
	}
	if len(cands) == 0 {
		fmt.Fprintln(a.stdout, "No serial ports. Plug in the console adapter (`jetup profiles show` says where it goes).")
		return nil
	}
	for i, c := range cands {
		mark := fmt.Sprintf("%2d.", i+1)
		if c.Excluded {
			mark = " --"
		}
		fmt.Fprintf(a.stdout, "%s %s\n    %s\n", mark, c.Port.Describe(), c.Why)
	}
	return nil
}

// scanLog recognises stages and facts in a saved log.
func (a *app) scanLog(path string, until *serialcon.Until) error {
	fh, err := os.Open(path)
	if err != nil {
		return step.Refuse("log-file", "pass the path of a saved console log", "%v", err)
	}
	defer fh.Close()
	pr := &consolePrinter{out: a.stdout, notes: a.stdout, json: a.json}
	sum, matched, err := serialcon.Scan(fh, until, pr)
	if err != nil {
		return step.Errorf("log-file", "check the file", "reading %s: %v", path, err)
	}
	if until != nil && !matched {
		if !a.json {
			fmt.Fprintf(a.stderr, "jetup: --until %s is not in %s (last stage: %s)\n", until, path, orNone(sum.LastStage()))
		}
		return silent(step.ExitFailed)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
