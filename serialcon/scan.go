package serialcon

import (
	"bufio"
	"io"
	"strings"
	"time"

	"github.com/jetup/jetup/proc"
	"github.com/jetup/jetup/step"
)

// Scan recognises the stages and facts in a saved console log: the raw
// bytes (console.raw, a minicom or tio capture) or jetup's own text log
// (console.log, a timestamp before each line; its own marker lines are
// skipped and the timestamps become the events' times). It emits Stage and
// Fact events to sink and returns what it found. With until, it stops where
// until first matches and says whether it did.
func Scan(r io.Reader, until *Until, sink step.Sink) (sum Summary, matched bool, err error) {
	done := false // the line that matched has been seen whole
	w := NewWatcher(func(e any) {
		if done {
			return
		}
		sum.add(e)
		if ev, ok := e.(step.Event); ok {
			sink.Emit(ev)
		}
		if st, ok := e.(Stage); ok && until.matchStage(st.Stage) {
			matched = true
		}
	})
	line := func(text string, at time.Time) {
		if matched {
			return
		}
		w.Line(text, at)
		if until.matchLine(text) {
			matched = true
		}
		done = matched
	}
	br := bufio.NewReaderSize(r, 64*1024)
	head, _ := br.Peek(len(textLogTimeLayout) + 2)
	if _, ok := parseTextLogLine(head); ok {
		err = scanTextLog(br, line, w)
		return sum, matched, err
	}
	c := newCooker(line)
	buf := make([]byte, 64*1024)
	for !matched {
		n, rerr := br.Read(buf)
		c.feed(buf[:n], time.Time{})
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return sum, matched, rerr
		}
	}
	if !matched {
		// The last, unfinished line (a prompt waiting for input) may
		// show the stage --until waits for: Idle's callback sets matched.
		p := c.partial()
		w.Idle(p, time.Time{})
		matched = matched || (p != "" && until.matchLine(p))
	}
	return sum, matched, nil
}

func scanTextLog(br *bufio.Reader, line func(string, time.Time), w *Watcher) error {
	// A line longer than 1 MiB is cut and the scan goes on (a
	// bufio.Scanner stopped there and the rest of the log went unjudged).
	sc := proc.NewLineScanner(br, 1<<20)
	var last string
	var lastAt time.Time
	for sc.Scan() {
		b := sc.Bytes()
		at, ok := parseTextLogLine(b)
		if !ok {
			continue
		}
		text := string(b[len(textLogTimeLayout)+2:])
		if strings.HasPrefix(text, markerPrefix) {
			continue
		}
		line(text, at)
		last, lastAt = text, at
	}
	// The log's last line may be a prompt the board was waiting at.
	w.Idle(last, lastAt)
	return sc.Err()
}

// Summary is what a console session or a saved log showed.
type Summary struct {
	// Stages in the order they were reached (a reboot repeats them).
	Stages []Stage `json:"stages"`
	// Facts, in the order they were seen.
	Facts []Fact `json:"facts"`
	// Findings are the known dead ends the boot hit, with the next step.
	Findings []Finding `json:"findings,omitempty"`
}

func (s *Summary) add(e any) {
	switch e := e.(type) {
	case Stage:
		s.Stages = append(s.Stages, e)
	case Fact:
		s.Facts = append(s.Facts, e)
	case Finding:
		s.Findings = append(s.Findings, e)
	}
}

// Last returns the last value of fact id, or "".
func (s Summary) Last(id string) string {
	for i := len(s.Facts) - 1; i >= 0; i-- {
		if s.Facts[i].Fact == id {
			return s.Facts[i].Value
		}
	}
	return ""
}

// Reached reports whether stage id was reached.
func (s Summary) Reached(id string) bool {
	for _, st := range s.Stages {
		if st.Stage == id {
			return true
		}
	}
	return false
}

// LastStage is the stage reached last, or "".
func (s Summary) LastStage() string {
	if len(s.Stages) == 0 {
		return ""
	}
	return s.Stages[len(s.Stages)-1].Stage
}
