package serialcon

import (
	"bufio"
	"bytes"
	"io"
	"time"

	"github.com/jetup/jetup/step"
)

// Scan recognises the stages and facts in a saved console log: the raw
// bytes (console.raw, a minicom or tio capture) or jetup's own text log
// (console.log, a timestamp before each line; its own marker lines are
// skipped and the timestamps become the events' times). It emits Stage and
// Fact events to sink and returns what it found.
func Scan(r io.Reader, sink step.Sink) (Summary, error) {
	var sum Summary
	w := NewWatcher(func(e any) {
		sum.add(e)
		if ev, ok := e.(step.Event); ok {
			sink.Emit(ev)
		}
	})
	br := bufio.NewReaderSize(r, 64*1024)
	head, _ := br.Peek(len(textLogTimeLayout) + 2)
	if _, ok := parseTextLogLine(head); ok {
		return sum, scanTextLog(br, w)
	}
	c := newCooker(w.Line)
	buf := make([]byte, 64*1024)
	for {
		n, err := br.Read(buf)
		c.feed(buf[:n], time.Time{})
		if err == io.EOF {
			break
		}
		if err != nil {
			return sum, err
		}
	}
	w.Idle(c.partial(), time.Time{})
	c.flush()
	return sum, nil
}

func scanTextLog(br *bufio.Reader, w *Watcher) error {
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var last string
	var lastAt time.Time
	for sc.Scan() {
		line := sc.Bytes()
		at, ok := parseTextLogLine(line)
		if !ok {
			continue
		}
		text := string(line[len(textLogTimeLayout)+2:])
		if bytes.HasPrefix([]byte(text), []byte(markerPrefix)) {
			continue
		}
		w.Line(text, at)
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
}

func (s *Summary) add(e any) {
	switch e := e.(type) {
	case Stage:
		s.Stages = append(s.Stages, e)
	case Fact:
		s.Facts = append(s.Facts, e)
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
