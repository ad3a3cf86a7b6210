package flash

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"
)

// Outcome of a flash run or a saved log.
type Outcome string

const (
	Success    Outcome = "success"
	Failed     Outcome = "failed"
	Incomplete Outcome = "incomplete" // the log ends (or the run was stopped) before any verdict
)

// Evidence is a line of the log that decided a verdict.
type Evidence struct {
	Line int    `json:"line"` // 1-based, counting \n
	Text string `json:"text"`
}

// End says how a live run ended; empty for a saved log.
type End string

const (
	EndExited    End = "exited"    // the script exited by itself
	EndConsole   End = "console"   // jetup ended it after the device entered its console
	EndTimeout   End = "timeout"   // jetup ended it after --timeout
	EndCancelled End = "cancelled" // the person cancelled
	EndStuck     End = "stuck"     // jetup ended it: the host polled a board that never answered
)

// Exit is how a live run ended, for Classifier.Finish.
type Exit struct {
	End     End
	Code    int           // the script's exit status (128+n when killed by signal n)
	Timeout time.Duration // the limit that ran out, for EndTimeout
}

// Verdict is the classifier's judgement. Its JSON is the `jetup diagnose
// --json` format and the flash step's run-record details: keep the names.
type Verdict struct {
	Outcome  Outcome    `json:"outcome"`
	Stage    Stage      `json:"stage"` // the last stage reached
	Cause    Cause      `json:"cause,omitempty"`
	What     string     `json:"what,omitempty"` // the cause in a few words
	Hint     string     `json:"hint,omitempty"` // what the person should do next
	Evidence []Evidence `json:"evidence"`
	Step     int        `json:"step,omitempty"` // the last "Step N/M" seen
	Steps    int        `json:"steps,omitempty"`
	// Attempts counts the runs found in the log, the script's own retries
	// included (a failure followed by later progress); the verdict is about
	// the last. Retries are the earlier ones, oldest first.
	Attempts int     `json:"attempts"`
	Retries  []Retry `json:"retries,omitempty"`
	Lines    int     `json:"lines"` // lines in the log, as an editor counts them
	Ended    End     `json:"ended,omitempty"`
	ExitCode *int    `json:"exit_code,omitempty"`
	// ErrorCause is jetup's own reason when the flash stopped before the
	// script ran ("build-failed", "no-script", ...).
	ErrorCause string `json:"error_cause,omitempty"`
}

// Retry is an earlier attempt in the same log: a run the script (or the
// person) started again, or a failure the tool got past. It is reported,
// never the outcome.
type Retry struct {
	Outcome  Outcome    `json:"outcome"` // failed, or incomplete for a run cut short
	Stage    Stage      `json:"stage"`
	Cause    Cause      `json:"cause,omitempty"`
	Evidence []Evidence `json:"evidence"`
}

// maxRetries bounds the retries a verdict keeps (the latest ones): a
// hostile log may hold a million failure-and-progress pairs.
const maxRetries = 16

// Signal is something a live view shows as it happens.
type Signal struct {
	Kind   SignalKind
	Stage  Stage  // SignalStage
	Step   int    // SignalStep: Step N of M
	Steps  int    // SignalStep
	Text   string // the cleaned line
	LineNo int
}

// SignalKind says what a Signal reports.
type SignalKind int

const (
	SignalLine    SignalKind = iota // every non-empty cleaned line
	SignalStage                     // a new stage was reached
	SignalStep                      // a device "Step N/M..." line
	SignalConsole                   // the device entered its interactive console
	SignalAttempt                   // a new run starts in the same stream
	SignalStuck                     // the host polls a board that never answers: the run cannot succeed
)

// maxLine bounds how much of one line is held: longer lines (a wall of
// progress dots) are judged in chunks that overlap by maxPattern bytes so a
// marker across a chunk border is still found.
const (
	maxLine     = 64 << 10
	maxPattern  = 128
	maxEvidence = 8
	evidenceLen = 240
)

// Classifier reads a flash log as it streams (Write) and judges it
// (Verdict, or Finish for a live run that ended). It never fails and never
// panics on bad input: ANSI codes, \r progress, invalid UTF-8, CRLF and
// huge lines are all taken in stride. Not safe for concurrent use.
type Classifier struct {
	// OnSignal, when set, is called for lines, stages and progress as they
	// are read.
	OnSignal func(Signal)

	partial []byte // an unfinished line
	clean   []byte // scratch for the cleaned line
	seen    []bool
	lineNo  int  // \n-counted line of the text being read
	tail    bool // bytes after the last \n
	cur     attempt
	count   int // attempts seen
	retries []Retry
	lastCR  bool
}

type attempt struct {
	stage      Stage
	stageLine  Evidence
	outcome    Outcome // "" while undecided
	final      bool    // the script's own failure verdict: nothing later in this run undoes it
	cause      Cause
	strength   int
	hint       string
	evidence   []Evidence
	legacyDone *Evidence
	legacyAt   Stage // the stage when flash.sh said it was done
	rcmMode    bool
	tegraflash int
	loops      int
	console    bool
	step       int
	steps      int
}

// NewClassifier returns a classifier for one log.
func NewClassifier() *Classifier {
	return &Classifier{seen: make([]bool, len(rules)), lineNo: 1}
}

// Write feeds log bytes; it always consumes all of p. The verdict does not
// depend on how the log is cut into writes.
func (c *Classifier) Write(p []byte) (int, error) {
	n := len(p)
	if n > 0 {
		c.tail = p[n-1] != '\n'
	}
	for len(p) > 0 {
		i := bytes.IndexAny(p, "\r\n")
		if i < 0 {
			c.take(p, false)
			c.lastCR = false
			break
		}
		if !(c.lastCR && i == 0 && p[0] == '\n') { // the \n of a \r\n ends nothing new
			c.take(p[:i], true)
		}
		if p[i] == '\n' {
			c.lineNo++
		}
		c.lastCR = p[i] == '\r'
		p = p[i+1:]
	}
	return n, nil
}

// take adds b to the line being read and judges it at its end. A line
// longer than maxLine is judged in chunks of maxLine bytes, each starting
// maxPattern bytes before the previous one ended.
func (c *Classifier) take(b []byte, eol bool) {
	if eol && len(c.partial) == 0 && len(b) <= maxLine {
		c.line(b)
		return
	}
	c.partial = append(c.partial, b...)
	for len(c.partial) > maxLine {
		c.line(c.partial[:maxLine])
		c.partial = append(c.partial[:0], c.partial[maxLine-maxPattern:]...)
	}
	if eol {
		c.line(c.partial)
		c.partial = c.partial[:0]
	}
}

// Close judges an unfinished last line.
func (c *Classifier) Close() {
	if len(c.partial) > 0 {
		c.line(c.partial)
		c.partial = c.partial[:0]
	}
}

func (c *Classifier) emit(s Signal) {
	if c.OnSignal != nil {
		c.OnSignal(s)
	}
}

// line judges one raw line.
func (c *Classifier) line(raw []byte) {
	l := cleanLine(&c.clean, raw)
	if len(l) == 0 {
		return
	}
	text := ""
	if c.OnSignal != nil {
		text = evidenceText(l)
		c.emit(Signal{Kind: SignalLine, Text: text, LineNo: c.lineNo})
	}
	// "#" lines are flash.sh's banner or annotations in a saved transcript:
	// only the banner counts.
	if l[0] == '#' {
		body := bytes.TrimLeft(l, "# ")
		for _, id := range []int{bannerRuleID, boardRuleID} {
			if bytes.HasPrefix(body, []byte(rules[id].pat)) {
				c.apply(id, l)
			}
		}
		return
	}
	if n, m, ok := deviceStep(l); ok {
		// A device step past the one that failed is progress: the failure
		// was retried.
		if c.standing() && (StageFlashing.Index() > c.cur.stage.Index() || n > c.cur.step) {
			c.retry()
		}
		c.setStage(StageFlashing, l)
		c.cur.step, c.cur.steps = n, m
		if text == "" && c.OnSignal != nil {
			text = evidenceText(l)
		}
		c.emit(Signal{Kind: SignalStep, Step: n, Steps: m, Text: text, LineNo: c.lineNo})
	} else if tegraflashStep(l) && c.cur.stage.Index() < StageProbe.Index() {
		if c.standing() {
			c.retry()
		}
		c.setStage(StageProbe, l)
	}
	ruleMatcher().each(l, c.seen, func(id, at int) {
		if rules[id].prefix && at != 0 {
			return
		}
		c.apply(id, l)
	})
}

// standing reports whether the current attempt has a failure that later
// progress may still turn into a retry.
func (c *Classifier) standing() bool { return c.cur.outcome == Failed && !c.cur.final }

// apply records what rule id says about line l.
func (c *Classifier) apply(id int, l []byte) {
	e := rules[id].effect
	a := &c.cur
	if e.newAttempt && (a.stage.Index() > StageStart.Index() || a.outcome != "") {
		c.newAttempt()
		a = &c.cur
	}
	if c.count == 0 {
		c.count = 1
	}
	st := e.stage
	if e.tegraflash {
		st = StageProbe
		if a.tegraflash > 0 && !bytes.Contains(l, []byte("dump eeprom")) {
			st = StageRCMBoot
		}
	}
	// A line that is no failure and shows the run got further than where
	// it failed means the tool (or the person) tried again and got past
	// it: the failure becomes a retry, the run goes on. The script's own
	// failure verdict is never undone this way.
	if c.standing() && e.cause == "" && !e.evidence && !e.loop &&
		(e.progress || e.legacyDone || e.success || st.Index() > a.stage.Index()) {
		c.retry()
		a = &c.cur
	}
	if e.tegraflash {
		a.tegraflash++
	}
	if e.rcmMode {
		a.rcmMode = true
	}
	if st != StageNone {
		c.setStage(st, l)
	}
	switch {
	case e.success && !a.final, e.weakSuccess && a.outcome == "":
		c.setStage(StageSuccess, l)
		a.outcome, a.cause, a.strength, a.hint = Success, "", 0, ""
		a.evidence = []Evidence{c.evidence(l)}
	case e.legacyDone:
		ev := c.evidence(l)
		a.legacyDone, a.legacyAt = &ev, a.stage
	case e.cause != "":
		c.fail(e.cause, e.strength, e.hint, l)
		if e.final || e.console {
			a.final = true
		}
	case e.evidence && a.outcome == Failed:
		c.addEvidence(l, false)
	case e.loop:
		a.loops++
		if a.loops == loopLimit {
			c.fail(CauseAppletLoop, 2, "", l)
		}
		if a.loops == stuckLimit {
			c.emit(Signal{Kind: SignalStuck, Text: evidenceText(l), LineNo: c.lineNo})
		}
	}
	if e.console && !a.console {
		a.console = true
		c.emit(Signal{Kind: SignalConsole, Text: evidenceText(l), LineNo: c.lineNo})
	}
}

// newAttempt starts a fresh run (a new banner): the one before is kept as
// a retry.
func (c *Classifier) newAttempt() {
	c.keep(c.cur.judge())
	c.cur = attempt{}
	c.count++
	c.emit(Signal{Kind: SignalAttempt, LineNo: c.lineNo})
}

// retry turns the standing failure into a retry and carries on with the
// same run: the stage, the step and the tegraflash count stay.
func (c *Classifier) retry() {
	a := &c.cur
	c.keep(Retry{Outcome: Failed, Stage: a.stage, Cause: a.cause, Evidence: a.evidence})
	a.outcome, a.cause, a.strength, a.hint, a.evidence, a.loops = "", "", 0, "", nil, 0
	c.count++
	c.emit(Signal{Kind: SignalAttempt, LineNo: c.lineNo})
}

func (c *Classifier) keep(r Retry) {
	if r.Evidence == nil {
		r.Evidence = []Evidence{}
	}
	if len(c.retries) == maxRetries {
		copy(c.retries, c.retries[1:])
		c.retries = c.retries[:maxRetries-1]
	}
	c.retries = append(c.retries, r)
}

// judge is how an attempt that another one followed ended.
func (a *attempt) judge() Retry {
	switch a.outcome {
	case Success:
		return Retry{Outcome: Success, Stage: a.stage, Evidence: a.evidence}
	case Failed:
		return Retry{Outcome: Failed, Stage: a.stage, Cause: a.cause, Evidence: a.evidence}
	}
	r := Retry{Outcome: Incomplete, Stage: a.stage, Cause: CauseUnknown}
	if a.stage != StageNone {
		r.Evidence = []Evidence{a.stageLine}
	}
	return r
}

// fail records a failure; the strongest failure of the attempt names the
// cause, ties go to the later line.
func (c *Classifier) fail(cause Cause, strength int, hint string, l []byte) {
	a := &c.cur
	if a.outcome != Failed {
		a.outcome, a.evidence, a.strength = Failed, nil, 0
	}
	decisive := strength >= a.strength
	if decisive {
		a.cause, a.strength, a.hint = cause, strength, hint
	}
	c.addEvidence(l, decisive)
}

// addEvidence keeps the first lines of a failure; the line that decides
// the cause always gets in, in place of the last kept one if need be.
func (c *Classifier) addEvidence(l []byte, decisive bool) {
	if n := len(c.cur.evidence); n > 0 && c.cur.evidence[n-1].Line == c.lineNo && c.cur.evidence[n-1].Text == string(l) {
		return // one line, several markers
	}
	switch {
	case len(c.cur.evidence) < maxEvidence:
		c.cur.evidence = append(c.cur.evidence, c.evidence(l))
	case decisive:
		c.cur.evidence[maxEvidence-1] = c.evidence(l)
	}
}

func (c *Classifier) evidence(l []byte) Evidence {
	return Evidence{Line: c.lineNo, Text: evidenceText(l)}
}

// setStage moves the attempt forward (never back) and reports it.
func (c *Classifier) setStage(s Stage, l []byte) {
	if s.Index() <= c.cur.stage.Index() {
		return
	}
	if c.count == 0 {
		c.count = 1
	}
	c.cur.stage = s
	c.cur.stageLine = c.evidence(l)
	c.emit(Signal{Kind: SignalStage, Stage: s, Text: c.cur.stageLine.Text, LineNo: c.lineNo})
}

func (c *Classifier) lineCount() int {
	if c.tail {
		return c.lineNo
	}
	return c.lineNo - 1
}

// Stage is the stage reached so far.
func (c *Classifier) Stage() Stage { return c.cur.stage }

// Verdict judges the log read so far as a saved log: without a success or
// failure marker it is incomplete.
func (c *Classifier) Verdict() Verdict {
	a := c.cur
	v := Verdict{Outcome: a.outcome, Stage: a.stage, Cause: a.cause, Hint: a.hint, Step: a.step, Steps: a.steps,
		Attempts: c.count, Lines: c.lineCount(), Evidence: append([]Evidence(nil), a.evidence...),
		Retries: append([]Retry(nil), c.retries...)}
	if v.Outcome == "" && a.legacyDone != nil && !a.rcmMode && a.stage == a.legacyAt {
		// The legacy flash.sh wrote the board over USB and said so, and
		// no initrd flasher phase followed.
		v.Outcome, v.Stage, v.Evidence = Success, StageSuccess, []Evidence{*a.legacyDone}
	}
	if v.Outcome == "" {
		v.Outcome, v.Cause = Incomplete, CauseUnknown
		v.Hint = incompleteHint(a.stage)
		if a.stage != StageNone {
			v.Evidence = []Evidence{a.stageLine}
		}
	}
	return v.finish()
}

// finish fills What and the default hint from the cause.
func (v Verdict) finish() Verdict {
	if v.Evidence == nil {
		v.Evidence = []Evidence{}
	}
	if v.Outcome == Success {
		v.Cause, v.Hint = "", "The board reboots into its new firmware: watch the serial console, then boot the installer."
		return v
	}
	if !v.Cause.Known() {
		v.Cause = CauseUnknown
	}
	v.What = v.Cause.What()
	if v.Outcome == Incomplete && v.Cause == CauseUnknown {
		v.What = "the flash did not finish"
	}
	if v.Hint == "" {
		v.Hint = v.Cause.Hint()
	}
	return v
}

func incompleteHint(s Stage) string {
	if s == StageNone {
		return "The log shows no flash run jetup recognises: check it is the output of a flash script (jetpack-nixos, NVIDIA flash.sh or l4t_initrd_flash, OE4T initrd-flash)."
	}
	return "The log ends at \"" + s.Title() + "\" without a success or a failure: if the script stopped there, power-cycle the board into recovery mode and flash again; `jetup flash` stops a stuck run itself and says why."
}

// Finish judges a live run that has ended: the log's markers first, then how
// the script ended.
func (c *Classifier) Finish(x Exit) Verdict {
	c.Close()
	v := c.Verdict()
	code := x.Code
	v.Ended, v.ExitCode = x.End, &code
	if v.Outcome == Success {
		return v // the device reported success; what happened after does not undo it
	}
	strong := v.Outcome == Failed
	switch x.End {
	case EndConsole:
		v.Outcome = Failed
		if v.Cause != CauseBoardspecMismatch && v.Cause != CauseDeviceWriteFailed {
			v.Cause, v.Hint = CauseDeviceWriteFailed, ""
		}
	case EndStuck:
		v.Outcome = Failed
		if !strong {
			v.Cause, v.Hint = CauseAppletLoop, ""
		}
	case EndTimeout:
		v.Outcome = Incomplete
		if !strong {
			v.Cause = CauseUnknown
			if v.Stage.Index() >= StageWaitDevice.Index() {
				v.Cause = CauseDeviceTimeout
			}
		}
		v.Hint = "jetup stopped the flash after " + x.Timeout.String() + " at \"" + v.Stage.Title() + "\". " + v.Cause.Hint()
	case EndCancelled:
		v.Outcome = Incomplete
		if !strong {
			v.Cause = CauseUnknown
		}
		v.Hint = "You stopped the flash at \"" + v.Stage.Title() + "\": the board may be half flashed. Power-cycle it into recovery mode and flash again."
	default:
		switch {
		case code == 0 && !strong:
			// The script's own verdict counts (a custom script may print
			// nothing jetup knows).
			v.Outcome, v.Stage = Success, StageSuccess
			v.Cause = ""
		case code == 0:
			// A failure in the log beats a zero exit status.
		case !strong:
			v.Outcome, v.Cause, v.Hint = Failed, CauseUnknown, ""
			if code == 2 && v.Stage == StageWaitDevice {
				v.Cause = CauseGadgetNotDetected
			}
			if code == 126 || code == 127 {
				v.Hint = "The flash script could not be started (exit status " + strconv.Itoa(code) + "): check the path given to --script is the executable in result/bin, then flash again."
			}
		}
	}
	v.What, v.Hint = "", strings.TrimSpace(v.Hint)
	return v.finish()
}

// Classify judges a saved log.
func Classify(r io.Reader) (Verdict, error) {
	c := NewClassifier()
	if _, err := io.CopyBuffer(c, r, make([]byte, 256<<10)); err != nil {
		return Verdict{}, err
	}
	c.Close()
	return c.Verdict(), nil
}
