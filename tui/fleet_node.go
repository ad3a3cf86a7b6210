package tui

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/safe"
)

// nodeView is one node opened from the fleet: its state, and its own run
// record as `jetup runs show` prints it (each step's outcome, cause, next
// step and logs) with the end of each log; before the node has a run
// record, the lines its run has emitted so far.
type nodeView struct {
	row       *fleetRow
	stateDir  string
	runID     string
	rec       *runrec.Record
	err       error
	logs      []nodeLog
	offset    int  // the first body line asked for
	shownFrom int  // the first body line the last view showed
	follow    bool // the end stays in view as the logs grow (as less +F)
}

// nodeLog is the end of one of the node's logs, made safe to print.
type nodeLog struct {
	path  string
	lines []string
}

// logTail is how much of the end of each log the view reads.
const logTail = 64 << 10

// maxLogLines is how many of a log's last lines the view shows.
const maxLogLines = 200

func newNodeView(r *fleetRow, stateDir string) *nodeView {
	v := &nodeView{row: r, stateDir: stateDir, follow: true} // a log's last lines say the most
	v.refresh()
	return v
}

// refresh reads the node's run record and the ends of its logs again.
func (v *nodeView) refresh() {
	v.runID = v.row.run
	v.rec, v.err, v.logs = nil, nil, nil
	if v.runID == "" {
		return
	}
	if err := safe.Name("run id", v.runID); err != nil {
		v.err = err
		return
	}
	dir := v.dir()
	rec, err := runrec.Load(dir)
	if err != nil {
		v.err = err
		return
	}
	v.rec = rec
	for _, s := range rec.Steps {
		for _, l := range s.Logs {
			p := filepath.Join(dir, filepath.Base(l))
			v.logs = append(v.logs, nodeLog{path: p, lines: readTail(p, logTail, maxLogLines)})
		}
	}
}

// dir is the node's run record's directory.
func (v *nodeView) dir() string { return filepath.Join(v.stateDir, "runs", v.runID) }

// readTail is the last lines of a file (at most n, from its last max
// bytes), each made safe to print.
func readTail(path string, maxBytes int64, n int) []string {
	f, err := safe.Open(path) // a FIFO named as a log must not hang the screen
	if err != nil {
		return []string{"(cannot read: " + safe.Text(err.Error()) + ")"}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	start := max(fi.Size()-maxBytes, 0)
	b, err := io.ReadAll(io.NewSectionReader(f, start, maxBytes))
	if err != nil {
		return nil
	}
	text := string(b)
	if start > 0 { // the first line is cut: begin at the next one
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[i+1:]
		}
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		// nix's internal-json lines read as nix build -L prints them.
		if strings.HasPrefix(l, "@nix ") {
			h, ok := nixrun.ParseLine([]byte(l)).Human()
			if !ok {
				continue
			}
			l = h
		}
		lines = append(lines, strings.Split(safe.Text(l), "\n")...)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

// key scrolls the body.
func (v *nodeView) key(k tea.KeyPressMsg, height int) {
	if v.follow { // scrolling starts from the end shown
		v.offset = v.shownFrom
	}
	switch k.String() {
	case "up", "k":
		v.offset--
	case "down", "j":
		v.offset++
	case "pgup":
		v.offset -= max(height-1, 1)
	case "pgdown", " ":
		v.offset += max(height-1, 1)
	case "home", "g":
		v.offset = 0
	case "end", "G":
		v.follow = true
		return
	}
	v.follow = false
	v.offset = max(v.offset, 0)
}

// head is what stays at the top: the node, its state, and for a failure
// the cause and next step.
func (v *nodeView) head(st *Styles, w int) []string {
	r := v.row
	out := []string{st.Title.Render(fmt.Sprintf("%s · %s · phase %d", r.name, r.target, r.phase))}
	line := stateMark(st, r.state) + " " + string(r.state)
	if r.step != "" {
		line += " at " + r.step
	}
	if r.cause != "" {
		line += " (" + r.cause + ")"
	}
	out = append(out, line)
	if r.next != "" {
		out = append(out, strings.Split(hanging(st.Bold.Render("next: "), r.next, w), "\n")...)
	}
	return out
}

// body is the node's run record and logs, one string a line.
func (v *nodeView) body(st *Styles, w int) []string {
	r := v.row
	var out []string
	if r.verified != "" {
		out = append(out, "verify: "+fit(r.verified, w-8))
	}
	if v.rec == nil {
		for _, l := range strings.Split(r.detail, "\n") {
			if l != "" {
				out = append(out, fit(l, w))
			}
		}
	}
	switch {
	case v.runID == "":
		out = append(out, "", st.Subtle.Render("No run record yet: the node has not started."))
		return append(out, v.liveLines(st)...)
	case v.err != nil:
		out = append(out, "", st.Bad.Render("Run record "+v.runID+" cannot be read: ")+safe.Text(v.err.Error()))
		return append(out, v.liveLines(st)...)
	}
	rec := v.rec
	out = append(out, st.Bold.Render("run "+rec.ID)+fmt.Sprintf(" (%s), outcome %s", rec.Kind, rec.Outcome),
		st.Subtle.Render(fit("jetup runs show "+rec.ID+" · "+v.dir(), w)))
	now := time.Now()
	for _, s := range rec.Steps {
		out = append(out, fmt.Sprintf("%s %s (attempt %d): %s, %s", outcomeMark(st, s.Outcome), s.Step, s.Attempt, s.Outcome,
			s.Duration(now).Round(time.Second)))
		for _, l := range strings.Split(safe.Text(s.Summary), "\n") {
			if l != "" {
				out = append(out, "    "+fit(l, w-4))
			}
		}
		if s.Cause != "" {
			out = append(out, "    cause: "+safe.Text(s.Cause))
		}
		if s.Next != "" {
			out = append(out, strings.Split(hanging("    next:  ", safe.Text(s.Next), w), "\n")...)
		}
	}
	for _, l := range v.logs {
		out = append(out, "", st.Subtle.Render("── "+filepath.Base(l.path)+" (its end) ──"))
		for _, line := range l.lines {
			out = append(out, fit(line, w))
		}
	}
	return out
}

// liveLines are the node's own events so far.
func (v *nodeView) liveLines(st *Styles) []string {
	if len(v.row.lines) == 0 {
		return nil
	}
	return append([]string{"", st.Subtle.Render("── what the node's run said ──")}, v.row.lines...)
}

// view renders the node in w x h.
func (v *nodeView) view(st *Styles, w, h int) string {
	head := v.head(st, w)
	body := v.body(st, w)
	room := max(h-len(head)-1, 1)
	if v.follow {
		v.offset = len(body)
	}
	v.offset = min(v.offset, max(len(body)-room, 0))
	v.shownFrom = v.offset
	end := min(v.offset+room, len(body))
	shown := body[v.offset:end]
	more := ""
	if end < len(body) || v.offset > 0 {
		more = st.Subtle.Render(fmt.Sprintf("lines %d-%d of %d", v.offset+1, end, len(body)))
	}
	return strings.Join(head, "\n") + "\n" + more + "\n" + strings.Join(shown, "\n")
}
