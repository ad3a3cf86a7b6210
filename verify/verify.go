package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
)

// shell is one board shell and what it has said.
type shell struct {
	sess     remote.Conn
	rd       *frameReader
	sections map[string][]*frame
	ready    bool
	ended    bool
}

func (s *shell) last(name string) *frame {
	if l := s.sections[name]; len(l) > 0 {
		return l[len(l)-1]
	}
	return nil
}

type verifier struct {
	edge  Edge
	o     Options
	sink  step.Sink
	log   io.Writer
	token string
	want  map[string]bool
	plan  []string

	board *shell // the board's own shell
	kube  *shell // where k3s kubectl runs: the board, or --k3s-server

	results  map[string]Check
	mark     time.Time
	started  time.Time
	expected string // the toplevel the board should run
	from     string // where expected came from ("--closure", "push run ...")
	res      Result

	workload    *workload
	workloadErr error
	node        *kubeNode
	nodeName    string
}

// Run verifies the board. It returns the result with a verdict for every
// check it was asked for; an error only when it could not run them (the
// board refused or could not be reached: the result then says so for
// each check, or bad options: nil result).
func Run(ctx context.Context, edge Edge, o Options, sink step.Sink) (*Result, error) {
	v := &verifier{edge: edge, o: o, sink: sink, log: io.Discard, results: map[string]Check{}, started: time.Now(), want: map[string]bool{}}
	if o.Log != nil {
		v.log = &lockedWriter{w: o.Log}
	}
	if v.o.Wait == 0 {
		v.o.Wait = 3 * time.Minute
	}
	if v.o.PollEvery == 0 {
		v.o.PollEvery = edge.PollEvery
	}
	if v.o.PollEvery == 0 {
		v.o.PollEvery = 2 * time.Second
	}
	if err := v.validate(); err != nil {
		return nil, err
	}
	v.res = Result{Event: "result", Target: o.Target.String(), Expected: v.expected}
	p := Plan{Event: "plan", At: time.Now(), Target: o.Target.String()}
	for _, id := range v.plan {
		p.Checks = append(p.Checks, Planned{ID: id, Title: titles[id]})
	}
	sink.Emit(p)
	err := v.run(ctx)
	if err != nil && len(v.results) == 0 {
		why := "not checked: " + err.Error()
		for _, id := range v.plan {
			v.results[id] = Check{Status: Fail, Detail: why, Next: step.NextOf(err), Cause: CauseNotRun}
		}
	}
	v.finishAll(err)
	v.res.Seconds = time.Since(v.started).Seconds()
	if err != nil {
		if ctx.Err() != nil && !isStepError(err) {
			return &v.res, ctx.Err()
		}
		return &v.res, err
	}
	return &v.res, nil
}

func isStepError(err error) bool {
	var se *step.Error
	return errors.As(err, &se)
}

// validate checks the options before anything is sent. A workload that
// is not a Pod is kept as that check's failure: the others still run.
func (v *verifier) validate() error {
	for _, id := range v.o.Only {
		if _, ok := titles[id]; !ok {
			return step.Refuse("usage", "checks: "+strings.Join(IDs, ", "), "unknown check %q", id)
		}
	}
	v.plan = selected(v.o.Only)
	for _, id := range v.plan {
		v.want[id] = true
	}
	if v.o.Target.Host == "" {
		return step.Refuse("usage", "pass --host with the board's address (the console step shows it)", "no board given")
	}
	if err := v.o.Target.Refusal(); err != nil {
		return err
	}
	if CheckImage(v.o.ContainerImage) != nil {
		return step.Refuse("usage", "give an image reference like nvcr.io/nvidia/l4t-base:r36.2.0", "--container-image %q is not an image reference", v.o.ContainerImage)
	}
	if CheckCUDASample(v.o.CUDASample+v.o.ProfileCUDASample) != nil {
		return step.Refuse("usage", "give one command or store path", "--cuda-sample holds a line break")
	}
	for _, g := range v.o.GPU {
		for _, d := range g.Devices {
			if !ValidGlob(d) {
				return step.Refuse("bad-profile", "fix the profile's verify.gpu_devices: paths under /dev", "GPU device %q is not a path under /dev", d)
			}
		}
	}
	if v.o.Closure != "" {
		sys, err := resolveClosure(v.o.Closure)
		if err != nil {
			return step.Refuse("usage", "pass the pushed toplevel's store path or a result link to it", "--closure: %v", err)
		}
		v.expected, v.from = sys, "--closure"
	}
	if v.o.Workload != "" && v.want[K3sGPU] {
		v.workload, v.workloadErr = readWorkload(v.o.Workload)
	}
	var tok [12]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return err
	}
	v.token = hex.EncodeToString(tok[:])
	return nil
}

func (v *verifier) params() scriptParams {
	var globs []string
	for _, g := range v.o.GPU {
		globs = append(globs, g.Devices...)
	}
	cuda := v.o.CUDASample
	if cuda == "" {
		cuda = v.o.ProfileCUDASample
	}
	return scriptParams{Token: v.token, Checks: v.plan, GPUGlobs: dedupe(globs), CUDA: cuda, Image: v.o.ContainerImage}
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// open connects to t (trusting its key as push does) with a board shell
// running p.
func (v *verifier) open(ctx context.Context, t remote.Target, tr remote.Trust, p scriptParams) (*shell, string, error) {
	sess, fp, err := remote.Connect(ctx, v.edge.SSH, t, tr, remote.DialOptions{Log: v.log, Script: script(p)}, v.sink)
	if err != nil {
		return nil, "", err
	}
	s := &shell{sess: sess, rd: newFrameReader(sess.Output(), marker(p.Token), v.log), sections: map[string][]*frame{}}
	return s, fp, nil
}

func (v *verifier) run(ctx context.Context) error {
	sh, fp, err := v.open(ctx, v.o.Target, v.o.Trust, v.params())
	if err != nil {
		return err
	}
	v.board, v.kube = sh, sh
	v.res.Fingerprint = fp
	v.mark = time.Now()
	// Closing the session wakes a read blocked on the board.
	stop := make(chan struct{})
	var once sync.Once
	closeAll := func() {
		once.Do(func() {
			close(stop)
			sh.sess.Close()
			if v.kube != nil && v.kube != sh {
				v.kube.sess.Close()
			}
		})
	}
	go func() {
		select {
		case <-ctx.Done():
			closeAll()
		case <-stop:
		}
	}()
	defer closeAll()
	if v.expected == "" && v.o.StateDir != "" && fp != "" {
		v.expected, v.from = lastPushed(v.o.StateDir, fp)
		v.res.Expected = v.expected
	}
	if err := v.probe(ctx, sh); err != nil {
		return err
	}
	v.commands(ctx)
	_ = sh.sess.Send("quit\n")
	return nil
}

// probe reads the board shell's first part: the sections, judging each
// check at its "done" marker, until "ready".
func (v *verifier) probe(ctx context.Context, sh *shell) error {
	for {
		f, err := sh.rd.next()
		if err != nil {
			sh.ended = true
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return v.lost(sh)
		}
		switch f.Kind {
		case "section":
			sh.sections[f.Name] = append(sh.sections[f.Name], f)
		case "done":
			v.judgeProbe(ctx, f.Name)
		case "ready":
			sh.ready = true
			return nil
		}
	}
}

// lost says why the board shell ended early.
func (v *verifier) lost(sh *shell) error {
	err := sh.sess.Wait()
	what := "the board shell ended before it answered every probe"
	if err != nil {
		what += ": " + err.Error()
	}
	if len(v.results) > 0 {
		v.endMissing(what)
		return nil
	}
	return &step.Error{Cause: "board-shell", What: what, Next: "check the board's sh and the ssh link, then verify again; verify.log has what the board printed"}
}

// endMissing fails the checks that have no verdict yet.
func (v *verifier) endMissing(why string) {
	for _, id := range v.plan {
		if _, ok := v.results[id]; !ok {
			v.verdict(id, Check{Status: Fail, Detail: "not checked: " + why, Cause: CauseNotRun,
				Next: "check the link to the board and verify again; verify.log has what the board printed"})
		}
	}
}

// judgeProbe judges the checks the board has just finished probing.
func (v *verifier) judgeProbe(ctx context.Context, done string) {
	switch done {
	case BootedSystem:
		if v.want[BootedSystem] {
			v.verdict(BootedSystem, v.booted())
		}
	case FailedUnits:
		v.verdict(FailedUnits, v.units())
	case JetsonGPU:
		v.verdict(JetsonGPU, v.gpu())
	case K3sStorage:
		v.verdict(K3sStorage, v.storage())
	}
	// jetson-gpu is not probed when it is not asked for; a Pi profile
	// asks and is told not-enabled by gpu() itself.
	_ = ctx
}

// commands runs what needs the board shell's command loop: the waits and
// the slow runs, in report order.
func (v *verifier) commands(ctx context.Context) {
	if v.want[K3sNode] || v.want[K3sGPU] {
		c := v.k3sNode(ctx)
		if v.want[K3sNode] {
			v.verdict(K3sNode, c)
		}
		if v.want[K3sGPU] {
			v.verdict(K3sGPU, v.k3sGPU(ctx))
		}
	}
	if v.want[CUDA] {
		v.verdict(CUDA, v.cuda(ctx))
	}
	if v.want[ContainerGPU] {
		v.verdict(ContainerGPU, v.container(ctx))
	}
	if v.board.ended {
		v.endMissing("the board shell ended")
	}
}

// command sends cmd (and payload) to a shell and collects the sections of
// its answer.
func (v *verifier) command(sh *shell, cmd string, payload []byte) (map[string]*frame, error) {
	if sh.ended {
		return nil, errEOF
	}
	if err := sh.sess.Send(cmd + "\n" + string(payload)); err != nil {
		sh.ended = true
		return nil, err
	}
	out := map[string]*frame{}
	for {
		f, err := sh.rd.next()
		if err != nil {
			sh.ended = true
			return out, errEOF
		}
		switch f.Kind {
		case "section":
			sh.sections[f.Name] = append(sh.sections[f.Name], f)
			out[f.Name] = f
		case "ok":
			return out, nil
		}
	}
}

// verdict records a check's verdict and emits it.
func (v *verifier) verdict(id string, c Check) {
	if _, done := v.results[id]; done || !v.want[id] {
		return
	}
	now := time.Now()
	c.Event, c.At, c.ID, c.Title = "check", now, id, titles[id]
	c.Seconds = now.Sub(v.mark).Seconds()
	v.mark = now
	if c.Status != OK && c.Next == "" && c.Status != NotEnabled {
		c.Next = "see verify.log in the run record for the board's own output"
	}
	v.results[id] = c
	v.sink.Emit(c)
}

// finishAll fills the result in report order.
func (v *verifier) finishAll(err error) {
	for _, id := range v.plan {
		c, ok := v.results[id]
		if !ok {
			why := "the verification stopped before this check"
			if err != nil {
				why += ": " + err.Error()
			}
			c = Check{Event: "check", At: time.Now(), ID: id, Title: titles[id], Status: Fail, Detail: why, Cause: CauseNotRun}
		} else if c.Event == "" {
			c.Event, c.At, c.ID, c.Title = "check", time.Now(), id, titles[id]
		}
		v.res.Checks = append(v.res.Checks, c)
	}
	v.res.count()
}

// wait sleeps d or until ctx ends.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lastLines is the last n non-empty lines of b, each cut to w runes.
func lastLines(b []byte, n int) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, clip(l, 200))
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

// clip cuts s to n runes and drops control characters: board output goes
// to terminals.
func clip(s string, n int) string {
	var b strings.Builder
	i := 0
	for _, r := range s {
		if r < 0x20 && r != '\t' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			continue
		}
		if i == n {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		i++
	}
	return b.String()
}

// lockedWriter serialises writes to the raw log (two shells may write).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// shortSystem drops /nix/store/<hash>- from a toplevel.
func shortSystem(p string) string {
	if rest, ok := strings.CutPrefix(p, "/nix/store/"); ok {
		if _, name, ok := strings.Cut(rest, "-"); ok {
			return name
		}
	}
	return p
}

var _ = fmt.Sprintf
