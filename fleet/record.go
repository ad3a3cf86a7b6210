package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/jetup/jetup/safe"
)

// RecordFile is the fleet run's record, in the fleet run's directory
// beside its run.json: it names each node's run record and says where
// each node got to. It is rewritten (a temp file, then a rename) whenever
// a node's state changes, so a crash keeps what was done, and a re-run
// reads the last one of the same inventory to continue where it stopped.
const RecordFile = "fleet.json"

// Record is fleet.json.
type Record struct {
	Inventory string        `json:"inventory"`
	Run       string        `json:"run"`
	Started   time.Time     `json:"started"`
	Ended     *time.Time    `json:"ended,omitempty"`
	Outcome   string        `json:"outcome"` // running, success, failed, refused, cancelled
	ExitCode  int           `json:"exit_code"`
	Options   RecordOptions `json:"options"`
	Phases    [][]string    `json:"phases"`
	// Previous is the fleet run this one continues (the last of the same
	// inventory), when there was one.
	Previous string         `json:"previous_run,omitempty"`
	Systems  []SystemRecord `json:"systems"`
	Nodes    []NodeResult   `json:"nodes"`
	Cluster  *Cluster       `json:"cluster,omitempty"`
	// Bytes are what this machine sent: to the nodes (ssh) and to the
	// binary cache.
	SentBytes  int64 `json:"sent_bytes"`
	CacheBytes int64 `json:"cache_bytes,omitempty"`
}

// RecordOptions are the options the run was given.
type RecordOptions struct {
	Parallel  int      `json:"parallel"`
	KeepGoing bool     `json:"keep_going"`
	Only      []string `json:"only,omitempty"`
	Cache     string   `json:"cache,omitempty"`
	NoVerify  bool     `json:"no_verify"`
}

// SystemRecord is one distinct system.
type SystemRecord struct {
	System string   `json:"system"` // as the inventory names it
	Path   string   `json:"path,omitempty"`
	Nodes  []string `json:"nodes"`
	Error  string   `json:"error,omitempty"`
}

// NodeResult is where one node got to.
type NodeResult struct {
	Name  string `json:"name"`
	Phase int    `json:"phase"`
	// Target is user@host[:port].
	Target string `json:"target"`
	Role   string `json:"role,omitempty"`
	System string `json:"system,omitempty"` // the store path pushed
	State  State  `json:"state"`
	// Step is where it is, or where it stopped: build, connect,
	// preflight, copy, activate, confirm, k3s-token, verify.
	Step   string `json:"step,omitempty"`
	Detail string `json:"detail,omitempty"`
	Cause  string `json:"cause,omitempty"`
	Next   string `json:"next,omitempty"`
	// Refused is set when it failed before anything was sent or changed
	// (preflight, a host key): what the exit code 2 needs to know.
	Refused bool `json:"refused,omitempty"`
	// Run is the node's own run record (push and verify, their logs).
	Run         string `json:"run,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Hostname    string `json:"hostname,omitempty"`
	SentBytes   int64  `json:"sent_bytes"`
	// FetchedBytes the node fetched from the binary cache (--cache).
	FetchedBytes int64   `json:"fetched_bytes,omitempty"`
	Verified     string  `json:"verified,omitempty"` // verify's verdict line
	Seconds      float64 `json:"seconds"`
	// Previous is the fleet run a skipped node was pushed in before.
	Previous string `json:"previous_run,omitempty"`
}

// Counts are the nodes in each state.
func (r *Record) Counts() map[State]int {
	c := map[State]int{}
	for _, n := range r.Nodes {
		c[n.State]++
	}
	return c
}

// exitCode tells the truth: 0 when every selected node is done (or was
// already on its system) and the cluster checks out; 2 when nothing was
// pushed because every failure was a refusal before sending (preflight,
// a host key) and no node changed; 1 otherwise.
func (r *Record) exitCode() int {
	ok, refusals, other, changed := true, 0, 0, false
	for _, n := range r.Nodes {
		switch {
		case n.State == Done:
			changed = true
		case n.State.ok():
		case n.State == Failed && n.Refused:
			ok = false
			refusals++
		case n.State == NotRun:
			ok = false
		default:
			ok = false
			other++
		}
	}
	if r.Cluster != nil && !r.Cluster.OK() {
		ok = false
		other++
	}
	switch {
	case ok:
		return 0
	case other == 0 && refusals > 0 && !changed:
		return 2
	}
	return 1
}

// save writes fleet.json atomically in dir.
func (r *Record) save(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".fleet-*.json")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(append(b, '\n'))
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, RecordFile))
}

// maxRecord bounds fleet.json: ten thousand nodes of a few hundred bytes.
const maxRecord = 64 << 20

// LoadRecord reads the fleet.json in a fleet run's directory.
func LoadRecord(dir string) (*Record, error) {
	file := filepath.Join(dir, RecordFile)
	b, err := safe.ReadFile(file, maxRecord)
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return &r, nil
}

// lastRecord is the newest fleet.json of the same inventory under
// stateDir's runs (run directories are named by their UTC start, so
// their names sort by age); nil when there is none.
func lastRecord(stateDir, inventory string) *Record {
	base := filepath.Join(stateDir, "runs")
	ents, err := os.ReadDir(base)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(base, n, RecordFile)); err != nil {
			continue
		}
		r, err := LoadRecord(filepath.Join(base, n))
		if err == nil && r.Inventory == inventory {
			return r
		}
	}
	return nil
}

// node is the record's result for name, or nil.
func (r *Record) node(name string) *NodeResult {
	if r == nil {
		return nil
	}
	for i := range r.Nodes {
		if r.Nodes[i].Name == name {
			return &r.Nodes[i]
		}
	}
	return nil
}

// pushedIn is the fleet run that last pushed name: the previous run when
// it pushed it, else what that run knew.
func (r *Record) pushedIn(name string) string {
	n := r.node(name)
	switch {
	case n == nil:
		return ""
	case n.State == Done:
		return r.Run
	}
	return n.Previous
}
