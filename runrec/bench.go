package runrec

// The bench session: a technician's day of boards of one kind, one run
// record each, tied together in order by <state-dir>/bench.json. Each run
// record also names its session and place (Record.Bench), so the record of
// a board never depends on bench.json: a damaged or lost bench.json costs
// the order of the day, never a board.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jetup/jetup/safe"
)

// BenchFile is the bench session's file in the state dir.
const BenchFile = "bench.json"

// benchArchive is where the sessions of earlier days are kept, one file
// each (<state-dir>/bench/<session id>.json).
const benchArchive = "bench"

// maxBench bounds bench.json: a board is ~150 bytes, a day a few hundred.
const maxBench = 4 << 20

// BenchRef is a run's place in a bench session (run.json's "bench").
type BenchRef struct {
	Session string `json:"session"`
	Board   int    `json:"board"` // 1 for the session's first board
	Label   string `json:"label,omitempty"`
}

// BenchSession is the content of bench.json. Field names are an interface.
type BenchSession struct {
	ID      string       `json:"id"`
	Started time.Time    `json:"started"`
	Boards  []BenchBoard `json:"boards"`
}

// BenchBoard is one board of a session: its run and its label.
type BenchBoard struct {
	Board int       `json:"board"`
	Run   string    `json:"run"`
	Label string    `json:"label,omitempty"`
	Added time.Time `json:"added"`
}

// Bench is an open bench session.
type Bench struct {
	mu    sync.Mutex
	state string
	s     BenchSession
	now   func() time.Time
}

// BenchOptions for OpenBench.
type BenchOptions struct {
	Now func() time.Time // time.Now when nil
}

// OpenBench opens today's bench session in stateDir, or starts one. A
// session begun on an earlier (local) day is moved to bench/<id>.json and
// a new one starts. A bench.json that cannot be read as a session is kept
// as bench.json.damaged-<time> and a new session starts; note says so, in
// words for the person. Only a state dir that cannot be written is an
// error.
func OpenBench(stateDir string, o BenchOptions) (b *Bench, note string, err error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	b = &Bench{state: stateDir, now: now}
	path := b.Path()
	s, rerr := readBench(path)
	switch {
	case errors.Is(rerr, os.ErrNotExist):
	case rerr != nil:
		kept := fmt.Sprintf("%s.damaged-%s", path, now().UTC().Format("20060102T150405Z"))
		if err := os.Rename(path, kept); err != nil {
			return nil, "", fmt.Errorf("%s is damaged (%v) and cannot be set aside: %w", path, rerr, err)
		}
		// What happened and what became of it first: the wizard's footer
		// is one line.
		note = fmt.Sprintf("bench.json was damaged: kept as %s, a new bench session starts; "+
			"every board's own record is in runs/ (jetup runs --bench lists them). It was: %v", filepath.Base(kept), rerr)
	case sameDay(s.Started, now()):
		b.s = *s
		return b, "", nil
	default:
		if err := b.archive(s); err != nil {
			return nil, "", err
		}
	}
	start := now().UTC()
	b.s = BenchSession{ID: start.Format("20060102T150405Z"), Started: start, Boards: []BenchBoard{}}
	if err := b.save(); err != nil {
		return nil, note, err
	}
	return b, note, nil
}

// sameDay reports whether a and b fall on the same local calendar day.
func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Local().Date()
	by, bm, bd := b.Local().Date()
	return ay == by && am == bm && ad == bd
}

// readBench reads and checks bench.json: bounded, every name in it a
// name (its run ids name directories).
func readBench(path string) (*BenchSession, error) {
	raw, err := safe.ReadFile(path, maxBench)
	if err != nil {
		return nil, err
	}
	var s BenchSession
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("not a bench session: %w", err)
	}
	if err := safe.Name("bench session", s.ID); err != nil {
		return nil, err
	}
	if s.Started.IsZero() {
		return nil, errors.New("no start time")
	}
	for i, bb := range s.Boards {
		if err := safe.Name("run id", bb.Run); err != nil {
			return nil, fmt.Errorf("board %d: %w", i+1, err)
		}
		if bb.Label != "" {
			if err := safe.Name("label", bb.Label); err != nil {
				return nil, fmt.Errorf("board %d: %w", i+1, err)
			}
		}
	}
	if s.Boards == nil {
		s.Boards = []BenchBoard{}
	}
	return &s, nil
}

// archive moves an earlier day's session to bench/<id>.json.
func (b *Bench) archive(s *BenchSession) error {
	dir := filepath.Join(b.state, benchArchive)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot keep the last bench session: %w", err)
	}
	return os.Rename(b.Path(), filepath.Join(dir, s.ID+".json"))
}

// Path is bench.json's path.
func (b *Bench) Path() string { return filepath.Join(b.state, BenchFile) }

// Session returns a copy of the session as it stands.
func (b *Bench) Session() BenchSession {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.s
	c.Boards = append([]BenchBoard(nil), b.s.Boards...)
	return c
}

// Add makes run the session's next board, with label (may be empty: the
// board tells it later), in bench.json and in the run's own record.
func (b *Bench) Add(r *Run, label string) (BenchRef, error) {
	if label != "" {
		if err := safe.Name("label", label); err != nil {
			return BenchRef{}, err
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	ref := BenchRef{Session: b.s.ID, Board: len(b.s.Boards) + 1, Label: label}
	b.s.Boards = append(b.s.Boards, BenchBoard{Board: ref.Board, Run: r.ID(), Label: label, Added: b.now().UTC()})
	// The run's own record first: it is what survives a damaged bench.json.
	rerr := r.SetBench(ref)
	return ref, errors.Join(rerr, b.save())
}

// SetLabel names a board of the session (a label the board itself gave
// after it was added).
func (b *Bench) SetLabel(r *Run, label string) error {
	if err := safe.Name("label", label); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range b.s.Boards {
		if b.s.Boards[i].Run == r.ID() {
			b.s.Boards[i].Label = label
			ref := BenchRef{Session: b.s.ID, Board: b.s.Boards[i].Board, Label: label}
			return errors.Join(r.SetBench(ref), b.save())
		}
	}
	return fmt.Errorf("run %s is not a board of bench session %s", r.ID(), b.s.ID)
}

// save writes bench.json atomically. Callers hold b.mu (or own b).
func (b *Bench) save() error {
	raw, err := json.MarshalIndent(&b.s, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(b.state, BenchFile, append(raw, '\n'))
}

// writeAtomic writes dir/name through a temp file and a rename, so a
// reader never sees half a file and a crash keeps the last whole one.
func writeAtomic(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", name, err)
	}
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cannot write %s: %w", name, err)
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, name))
}

// SetBench records the run's place in a bench session.
func (r *Run) SetBench(ref BenchRef) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.Bench = &ref
	return r.save()
}

// StartOfDay is midnight (local time) of t's day: "today" for a bench.
func StartOfDay(t time.Time) time.Time {
	y, m, d := t.Local().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.Local)
}

// LabelUsed returns the run that already carries label among the bench
// boards started since since (today's, for the wizard's warning), other
// than the run except; "" when none does.
func LabelUsed(stateDir, label string, since time.Time, except string) (string, error) {
	runs, _, err := ListSince(stateDir, since)
	if err != nil {
		return "", err
	}
	for _, r := range runs {
		if r.Bench != nil && r.ID != except && strings.EqualFold(r.Bench.Label, label) {
			return r.ID, nil
		}
	}
	return "", nil
}

// LabelFrom makes a label of what a board says about itself (a USB
// serial, a module's serial number): the characters a label may hold,
// others dropped; "" when nothing usable is left.
func LabelFrom(s string) string {
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() < safe.MaxName; i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b.WriteByte(c)
		case (c == '.' || c == '_' || c == '-') && b.Len() > 0:
			b.WriteByte(c)
		}
	}
	out := b.String()
	if safe.Name("label", out) != nil {
		return ""
	}
	return out
}
