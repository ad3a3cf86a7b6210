package runrec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// Outcome of a step or of a whole run. Steps may add their own (flash has
// "incomplete"); these are the shared ones.
type Outcome string

const (
	Running   Outcome = "running"
	Success   Outcome = "success"
	Failed    Outcome = "failed"
	Refused   Outcome = "refused"
	Cancelled Outcome = "cancelled"
	Skipped   Outcome = "skipped"
	// Interrupted marks a step that was running when the record was last
	// written and never finished (jetup crashed or was killed).
	Interrupted Outcome = "interrupted"
)

// Record is the content of run.json. Field names are an interface.
type Record struct {
	ID           string            `json:"id"`
	Kind         string            `json:"kind"` // "wizard" or the headless command ("flash", ...)
	Profile      string            `json:"profile"`
	Host         Host              `json:"host"`
	JetupVersion string            `json:"jetup_version"`
	Command      []string          `json:"command,omitempty"`
	Sim          bool              `json:"sim,omitempty"` // ran against the simulated bench
	Started      time.Time         `json:"started"`
	Ended        *time.Time        `json:"ended,omitempty"`
	Outcome      Outcome           `json:"outcome"`
	Facts        map[string]string `json:"facts,omitempty"` // board facts: module, usb_instance, ip, hostname...
	// Bench is the run's place in a bench session (bench.go), for the
	// wizard's boards.
	Bench *BenchRef    `json:"bench,omitempty"`
	Steps []StepRecord `json:"steps"`
}

// Host describes the machine jetup ran on.
type Host struct {
	Hostname string `json:"hostname"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
	Kernel   string `json:"kernel,omitempty"`
	User     string `json:"user,omitempty"`
}

// StepRecord is one attempt of one step.
type StepRecord struct {
	Step    step.ID         `json:"step"`
	Attempt int             `json:"attempt"`
	Outcome Outcome         `json:"outcome"`
	Started time.Time       `json:"started"`
	Ended   *time.Time      `json:"ended,omitempty"`
	Summary string          `json:"summary,omitempty"`
	Cause   string          `json:"cause,omitempty"`
	Next    string          `json:"next,omitempty"`
	Logs    []string        `json:"logs,omitempty"` // file names inside the run directory
	Details json.RawMessage `json:"details,omitempty"`
}

// Duration of the step so far (or in all, once ended).
func (s StepRecord) Duration(now time.Time) time.Duration {
	if s.Ended != nil {
		return s.Ended.Sub(s.Started)
	}
	return now.Sub(s.Started)
}

// Run is an open run record.
type Run struct {
	mu  sync.Mutex
	dir string
	rec Record
	now func() time.Time
}

// Options for Create.
type Options struct {
	Kind    string
	Profile string
	Version string
	Command []string
	Sim     bool
	Host    Host
	// Name names the run directory instead of the profile (a fleet's
	// node, a fleet run); the record's profile stays Profile.
	Name string
	Now  func() time.Time // for tests; time.Now when nil
}

// FileName is the record's file inside a run directory.
const FileName = "run.json"

// Create makes a new run directory under stateDir/runs and writes run.json.
func Create(stateDir string, o Options) (*Run, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	start := now().UTC()
	profile := o.Profile
	if profile == "" {
		profile = "none"
	}
	what := "profile"
	if o.Name != "" {
		profile, what = o.Name, "run"
	}
	if err := safe.Name(what, profile); err != nil {
		return nil, fmt.Errorf("no run record: %w", err) // it names the run directory
	}
	base := filepath.Join(stateDir, "runs")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the run record directory %s: %w (set --state-dir to a writable directory)", base, err)
	}
	// Logs hold what boards and tools printed (addresses, serials, what
	// was typed at a prompt): for this user only. Runs directories made
	// by older versions (0755) are closed too.
	if fi, err := os.Stat(base); err == nil && fi.Mode().Perm()&0o077 != 0 {
		_ = os.Chmod(base, 0o700)
	}
	id := start.Format("20060102T150405Z") + "-" + profile
	dir := filepath.Join(base, id)
	for n := 2; ; n++ {
		err := os.Mkdir(dir, 0o700)
		if err == nil {
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("cannot create run directory: %w", err)
		}
		id = fmt.Sprintf("%s-%s-%d", start.Format("20060102T150405Z"), profile, n)
		dir = filepath.Join(base, id)
	}
	r := &Run{dir: dir, now: now, rec: Record{
		ID: id, Kind: o.Kind, Profile: o.Profile, Host: o.Host, JetupVersion: o.Version,
		Command: RedactCommand(o.Command), Sim: o.Sim, Started: start, Outcome: Running, Steps: []StepRecord{},
	}}
	if err := r.save(); err != nil {
		return nil, err
	}
	return r, nil
}

// Dir is the run's directory.
func (r *Run) Dir() string { return r.dir }

// ID is the run's id (its directory name).
func (r *Run) ID() string { return r.rec.ID }

// Snapshot returns a copy of the record as it stands.
func (r *Run) Snapshot() Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.rec
	c.Steps = append([]StepRecord(nil), r.rec.Steps...)
	if r.rec.Bench != nil {
		ref := *r.rec.Bench
		c.Bench = &ref
	}
	c.Facts = make(map[string]string, len(r.rec.Facts))
	for k, v := range r.rec.Facts {
		c.Facts[k] = v
	}
	return c
}

// SetProfile records the profile (the wizard learns it after the run starts).
func (r *Run) SetProfile(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rec.Profile = name
	return r.save()
}

// SetFact records a fact about the board (module, usb_instance, ip, ...).
// An empty value removes the fact.
func (r *Run) SetFact(key, value string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rec.Facts == nil {
		r.rec.Facts = map[string]string{}
	}
	if value == "" {
		delete(r.rec.Facts, key)
	} else {
		r.rec.Facts[key] = value
	}
	return r.save()
}

// Begin starts a new attempt of step id and records it as running.
func (r *Run) Begin(id step.ID) *Step {
	r.mu.Lock()
	defer r.mu.Unlock()
	attempt := 1
	for _, s := range r.rec.Steps {
		if s.Step == id {
			attempt++
		}
	}
	r.rec.Steps = append(r.rec.Steps, StepRecord{
		Step: id, Attempt: attempt, Outcome: Running, Started: r.now().UTC(),
	})
	_ = r.save() // a failed save is retried by the next one; the step goes on
	return &Step{run: r, index: len(r.rec.Steps) - 1}
}

// Close ends the run with its overall outcome and writes run.json a last time.
// Steps still running are marked interrupted.
func (r *Run) Close(outcome Outcome) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.now().UTC()
	for i := range r.rec.Steps {
		if r.rec.Steps[i].Outcome == Running {
			r.rec.Steps[i].Outcome = Interrupted
			r.rec.Steps[i].Ended = &t
		}
	}
	r.rec.Ended = &t
	r.rec.Outcome = outcome
	return r.save()
}

// save writes run.json atomically. Callers hold r.mu.
func (r *Run) save() error {
	b, err := json.MarshalIndent(&r.rec, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(r.dir, ".run-*.json")
	if err != nil {
		return fmt.Errorf("cannot write run record: %w", err)
	}
	_, werr := tmp.Write(append(b, '\n'))
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("cannot write run record: %w", err)
	}
	return os.Rename(tmp.Name(), filepath.Join(r.dir, FileName))
}
