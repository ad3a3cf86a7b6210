package deploy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// Result is a push that went through. It is the last --json line and the
// run record's details.
type Result struct {
	Event       string `json:"event"` // "result"
	Target      string `json:"target"`
	System      string `json:"system"`
	SystemType  string `json:"system_type"`
	Mode        Mode   `json:"mode"`
	Fingerprint string `json:"fingerprint"`
	BoardName   string `json:"board_hostname,omitempty"`
	BoardNix    string `json:"board_nix,omitempty"`
	Paths       int    `json:"paths"`
	Sent        int    `json:"sent"`
	Present     int    `json:"present"`
	SentBytes   int64  `json:"sent_bytes"`
	// Fetched paths came from the binary cache (Options.Cache), not from
	// this machine.
	Fetched      int   `json:"fetched,omitempty"`
	FetchedBytes int64 `json:"fetched_bytes,omitempty"`
	Generation   int   `json:"generation,omitempty"`
	Attempts     int   `json:"attempts"`
	Rebooting    bool  `json:"rebooting"`
	// RebootNeeded names what of the new system runs only after a reboot
	// (kernel, initrd, kernel-modules, firmware differ from the booted
	// system's): the confirm-or-rollback covers the live switch only.
	RebootNeeded []string `json:"reboot_needed,omitempty"`
	// Confirmed: the board's health check passed and jetup reached it
	// again after the switch (confirm-or-rollback).
	Confirmed bool `json:"confirmed"`
	// Current is set when the board already ran the system and nothing
	// was done (Options.SkipIfCurrent).
	Current         bool    `json:"current,omitempty"`
	Seconds         float64 `json:"seconds"`
	DeltaSeconds    float64 `json:"delta_seconds"` // preflight and delta
	CopySeconds     float64 `json:"copy_seconds"`
	ActivateSeconds float64 `json:"activate_seconds"`
}

// Text is the verdict line.
func (r Result) Text() string {
	if r.Current {
		return fmt.Sprintf("%s already runs %s: nothing sent, not activated again", r.Target, shortPath(r.System))
	}
	s := fmt.Sprintf("pushed %s to %s: %d paths (%s) sent, %d already there, in %.1fs",
		shortPath(r.System), r.Target, r.Sent, MiB(r.SentBytes), r.Present, r.Seconds)
	if r.Fetched > 0 {
		s = fmt.Sprintf("pushed %s to %s: %d paths (%s) fetched by the board from the binary cache, %d already there, in %.1fs",
			shortPath(r.System), r.Target, r.Fetched, MiB(r.FetchedBytes), r.Present, r.Seconds)
	}
	switch {
	case r.Mode == Installer:
		s += "; installed with nixos-install"
	case r.Generation > 0:
		s += fmt.Sprintf("; generation %d, switch-to-configuration %s", r.Generation, r.Mode)
	default:
		s += "; switch-to-configuration " + string(r.Mode)
	}
	if r.Confirmed {
		s += "; confirmed (health check passed, board reached again)"
	}
	if r.Rebooting {
		s += "; the board is rebooting"
	}
	if len(r.RebootNeeded) > 0 {
		s += "; a reboot is needed to run its new " + strings.Join(r.RebootNeeded, ", ") +
			" (the rollback covered this live switch only; nothing guards the reboot)"
	}
	return s
}

func shortPath(p string) string {
	if i := strings.IndexByte(p, '-'); i > 0 && strings.HasPrefix(p, StoreDir()+"/") {
		return p[i+1:]
	}
	return p
}

type pusher struct {
	edge    Edge
	o       Options
	sink    step.Sink
	log     io.Writer
	res     Result
	closure *Closure
	facts   Facts
	conn    remote.Conn
	out     *proc.LineScanner // the board shell's output
	gate    string            // the board shell's token (its gate directory)
	started time.Time
}

// Push sends the system to the board and activates it.
func Push(ctx context.Context, edge Edge, o Options, sink step.Sink) (*Result, error) {
	p := &pusher{edge: edge, o: o, sink: sink, log: io.Discard, started: time.Now()}
	if o.Log != nil {
		p.log = &lockedWriter{w: o.Log}
	}
	if p.o.ProgressEvery == 0 {
		p.o.ProgressEvery = 250 * time.Millisecond
	}
	defer func() {
		if p.conn != nil {
			p.conn.Close()
		}
	}()
	if err := p.run(ctx); err != nil {
		if ctx.Err() != nil && !isStepError(err) {
			return nil, ctx.Err()
		}
		return nil, err
	}
	p.res.Seconds = time.Since(p.started).Seconds()
	return &p.res, nil
}

func isStepError(err error) bool {
	var se *step.Error
	return errors.As(err, &se)
}

func (p *pusher) phase(ph Phase, format string, args ...any) {
	// Its text ("== what") reaches the log through the tee (Options.Log).
	p.sink.Emit(PhaseEvent{Event: "phase", At: time.Now(), Phase: ph, What: fmt.Sprintf(format, args...)})
}

func (p *pusher) run(ctx context.Context) error {
	if err := p.validate(); err != nil {
		return err
	}
	p.res = Result{Event: "result", Target: p.o.Target.String(), Attempts: 1}
	system, err := p.system(ctx)
	if err != nil {
		return err
	}
	p.res.System = system

	// The closure is read locally while the board is reached.
	var wg sync.WaitGroup
	var closureErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		closureErr = p.readClosure(ctx, system)
	}()
	connErr := p.connect(ctx)
	wg.Wait()
	if closureErr != nil {
		return closureErr
	}
	if connErr != nil {
		return connErr
	}
	// A board that fetches from a binary cache gets nothing over ssh: no
	// copy is started to wait at its gate (on a slow board its daemon's
	// session and the gate's polling cost CPU that its preflight needs).
	var pc *pendingCopy
	if p.o.Cache == nil {
		pc = p.startCopy(ctx)
	}
	missing, err := p.preflight(ctx)
	if err != nil {
		pc.stop()
		return err
	}
	if p.o.SkipIfCurrent && p.current() {
		pc.stop()
		_ = p.conn.Send("done\n") // the board shell ends with nothing changed
		p.res.Current = true
		p.phase(PhaseActivate, "%s already runs %s: nothing sent, not activated again", p.o.Target.Host, shortPath(p.res.System))
		return nil
	}
	if p.o.Cache != nil {
		err = p.fetch(ctx, missing)
	} else {
		err = p.copy(ctx, pc, missing)
	}
	if err != nil {
		return err
	}
	if p.o.BeforeActivate != nil {
		after, err := p.o.BeforeActivate(ctx)
		if err != nil {
			_ = p.conn.Send("done\n")
			return err
		}
		defer after()
	}
	return p.activate(ctx)
}

// current reports whether the board already runs the system as the mode
// would leave it.
func (p *pusher) current() bool {
	switch p.facts.Mode {
	case Switch:
		return p.facts.Current == p.res.System && p.facts.Profile == p.res.System
	case Boot:
		return p.facts.Profile == p.res.System
	}
	return false
}

func (p *pusher) validate() error {
	o := p.o
	switch {
	case o.Target.Host == "":
		return step.Refuse(string(CauseUsage), "pass --host with the board's address (the console step prints it)", "no board address given")
	case o.Closure == "" && o.Flake == "":
		return step.Refuse(string(CauseUsage), "pass --closure STOREPATH or --flake REF#NAME", "no system to push")
	case o.Closure != "" && o.Flake != "":
		return step.Refuse(string(CauseUsage), "pass either --closure or --flake", "both --closure and --flake given")
	case o.KnownHosts == "":
		return step.Refuse(string(CauseUsage), "pass the known_hosts file jetup keeps under its state dir", "no known_hosts file")
	}
	if err := o.Target.Refusal(); err != nil {
		return err
	}
	if o.Target.Identity != "" {
		if _, err := os.Stat(o.Target.Identity); err != nil {
			return step.Refuse(string(CauseUsage), "pass --identity with your private key file (the board has its public half)", "identity file: %v", err)
		}
	}
	if o.AcceptHostKey != "" && !strings.HasPrefix(o.AcceptHostKey, "SHA256:") {
		return step.Refuse(string(CauseUsage), "copy the fingerprint as ssh prints it: SHA256:<43 characters>", "--accept-host-key %q is not a SHA256 fingerprint", o.AcceptHostKey)
	}
	return nil
}

// system builds --flake or resolves --closure, and reads its `system` file.
func (p *pusher) system(ctx context.Context) (string, error) {
	var path string
	if p.o.Flake != "" {
		var err error
		if path, err = p.build(ctx); err != nil {
			return "", err
		}
	} else {
		var err error
		if path, err = p.edge.Nix.Resolve(p.o.Closure); err != nil {
			return "", step.Refuse(string(CauseBadClosure), "pass the store path of a built system toplevel (nix build .#nixosConfigurations.NAME.config.system.build.toplevel), or --flake REF#NAME",
				"--closure %s: %v", p.o.Closure, err)
		}
	}
	b, err := p.edge.Nix.ReadFile(path + "/system")
	if err != nil {
		return "", step.Refuse(string(CauseBadClosure), "pass a NixOS system toplevel (config.system.build.toplevel): it has a `system` file",
			"%s is not a NixOS system: it has no `system` file", path)
	}
	p.res.SystemType = strings.TrimSpace(string(b))
	return path, nil
}

func (p *pusher) readClosure(ctx context.Context, system string) error {
	start := time.Now()
	b, err := p.edge.Nix.PathInfo(ctx, system)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return step.Refuse(string(CauseBadClosure), "check that the system is built and valid here: nix path-info -r "+system, "cannot list the closure: %v", err)
	}
	c, err := ParsePathInfo(system, b)
	if err != nil {
		return step.Refuse(string(CauseBadClosure), "check that the system is built and valid here: nix path-info -r "+system, "%v", err)
	}
	p.closure = c
	fmt.Fprintf(p.log, "closure: %d paths, %s, listed in %v\n", len(c.Paths), MiB(c.Bytes), time.Since(start).Round(time.Millisecond))
	return nil
}

// preflight runs the probe and judges it; it returns the paths to send.
func (p *pusher) preflight(ctx context.Context) ([]StorePath, error) {
	p.phase(PhasePreflight, "preflight and delta on %s", p.o.Target.Host)
	start := time.Now()
	f, err := p.probe(ctx)
	if err != nil {
		return nil, err
	}
	p.facts = f
	p.res.BoardName, p.res.BoardNix, p.res.Mode = f.Hostname, f.NixVersion, f.Mode
	v := preflight(f, p.res.SystemType, p.o.Mode, p.o.Target)
	for _, c := range v.checks {
		p.sink.Emit(c)
	}
	if v.refuse != nil {
		return nil, v.refuse
	}
	missing, err := p.delta(f)
	if err != nil {
		return nil, err
	}
	p.res.DeltaSeconds = time.Since(start).Seconds()
	var send int64
	for _, m := range missing {
		send += m.NarSize
	}
	c, cause := spaceCheck(f, send)
	c.Event, c.At = "check", time.Now()
	p.sink.Emit(c)
	if c.Status == CheckFail {
		return nil, step.Refuse(string(cause), c.Next, "%s: %s", c.Title, c.Detail)
	}
	return missing, nil
}

// probe sends the closure's list to the board shell and reads what it
// found.
func (p *pusher) probe(ctx context.Context) (Facts, error) {
	if err := p.conn.Send(BoardInput(p.closure.List())); err != nil {
		return Facts{}, p.remoteErr(ctx, err, "the probe")
	}
	f, err := ParseProbe(p.out, func(l string) { fmt.Fprintln(p.log, "board: "+l) })
	if err != nil {
		if ctx.Err() != nil {
			return Facts{}, ctx.Err()
		}
		if !p.conn.Alive() {
			return Facts{}, p.remoteErr(ctx, remote.ErrConnectionLost, "the probe")
		}
		return Facts{}, step.Errorf(string(CauseProbeFailed), "log in by hand (ssh "+p.o.Target.String()+") and check that sh works", "%v", err)
	}
	return f, nil
}

// delta turns the probe's invalid list into the paths to send.
func (p *pusher) delta(f Facts) ([]StorePath, error) {
	if f.DeltaRC != 0 {
		return nil, step.Errorf(string(CauseDeltaFailed), "check the board's Nix store (nix-store --verify) and try again",
			"the board could not check its store (status %d): %s", f.DeltaRC, f.DeltaErr)
	}
	invalid := map[string]bool{}
	for _, s := range f.Invalid {
		invalid[s] = true
	}
	var missing []StorePath
	var bytes int64
	for _, sp := range p.closure.Paths {
		if invalid[sp.Path] {
			missing = append(missing, sp)
			bytes += sp.NarSize
		}
	}
	d := Delta{Event: "delta", At: time.Now(), Paths: len(p.closure.Paths), Missing: len(missing),
		Present: len(p.closure.Paths) - len(missing), SendBytes: bytes, TotalBytes: p.closure.Bytes}
	p.sink.Emit(d) // the tee writes its text into the log
	p.res.Paths, p.res.Present = d.Paths, d.Present
	return missing, nil
}

// remoteErr explains a failed remote command.
func (p *pusher) remoteErr(ctx context.Context, err error, what string) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, remote.ErrConnectionLost):
		return &step.Error{Cause: string(CauseConnectionLost), Err: err, What: "the connection to the board dropped during " + what,
			Next: "check the cable or network link to the board, then run the push again"}
	}
	return &step.Error{Cause: string(CauseRemoteFailed), Err: err, What: what + " failed on the board",
		Next: "see the push log in the run record; log in by hand (ssh " + p.o.Target.String() + ") to look"}
}
