package fleet

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/nixrun"
	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/safe"
)

// Roles that mean something to jetup: a k3s server gates the next phase
// and gives the join token; an agent joins. Any other role is free text.
const (
	RoleServer = "server"
	RoleAgent  = "agent"
)

// Node is one machine of the fleet, as the inventory names it.
type Node struct {
	Name string `json:"name"`
	// Host, Port, User and Identity reach it (remote.Target).
	Host     string `json:"host"`
	Port     int    `json:"port,omitempty"`
	User     string `json:"user"`
	Identity string `json:"identity,omitempty"`
	// HostKey is a fingerprint that vouches for the node's key on first
	// contact (as --accept-host-key does); later contacts use the pin.
	HostKey string `json:"host_key,omitempty"`
	// Profile is a board profile; "" for a plain host (an x86_64 server).
	Profile string `json:"profile,omitempty"`
	// System is what the inventory says, and what it resolves to: a
	// closure (a store path, or a link to one beside the inventory) or a
	// flake installable whose relative flake is made absolute.
	System string `json:"system"`
	// Closure or Flake is set, never both; neither for an update node.
	Closure string `json:"closure,omitempty"`
	Flake   string `json:"flake,omitempty"`
	// Update, instead of a system, is an update the node takes the way
	// `jetup update` applies it (update.go): a sysupdate directory or a
	// .swu bundle, its absolute path; UpdateKind says which.
	Update     string      `json:"update,omitempty"`
	UpdateKind string      `json:"update_kind,omitempty"`
	Mode       deploy.Mode `json:"mode"`
	Role       string      `json:"role,omitempty"`
	// Labels become colmena tags (key=value) on export.
	Labels map[string]string `json:"labels,omitempty"`
	// K3sTokenFile is where the node's k3s reads its join token
	// (services.k3s.tokenFile): jetup writes it there, mode 0600, before
	// the node's system is activated.
	K3sTokenFile string `json:"k3s_token_file,omitempty"`
	// Phase is the node's phase, from 1.
	Phase int `json:"phase"`
	// File and Line say where the node is written (Line 0 when unknown).
	File string `json:"-"`
	Line int    `json:"-"`
}

// Target is how the node is reached.
func (n *Node) Target() remote.Target {
	return remote.Target{Host: n.Host, Port: n.Port, User: n.User, Identity: n.Identity}
}

// SystemKey is the same for nodes that push the same system: it is built
// once.
func (n *Node) SystemKey() string {
	if n.Update != "" {
		return "update:" + n.Update
	}
	if n.Flake != "" {
		return "flake:" + n.Flake
	}
	return "closure:" + n.Closure
}

// K3s reports whether the node is a k3s server or agent.
func (n *Node) K3s() bool { return n.Role == RoleServer || n.Role == RoleAgent }

// Inventory is a validated fleet: its nodes and the order of its phases.
type Inventory struct {
	// File is the inventory's absolute path; Format is yaml, json or nix.
	File   string `json:"file"`
	Format string `json:"format"`
	// Nodes in phase order, each phase as it lists them.
	Nodes  []*Node    `json:"nodes"`
	Phases [][]string `json:"phases"`
}

// Node is the node called name, or nil.
func (inv *Inventory) Node(name string) *Node {
	for _, n := range inv.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Names are the nodes' names, in phase order.
func (inv *Inventory) Names() []string {
	out := make([]string, len(inv.Nodes))
	for i, n := range inv.Nodes {
		out[i] = n.Name
	}
	return out
}

// Select checks names (--only) against the inventory and returns them as
// a set; nil names select every node.
func (inv *Inventory) Select(names []string) (map[string]bool, error) {
	sel := map[string]bool{}
	if len(names) == 0 {
		for _, n := range inv.Nodes {
			sel[n.Name] = true
		}
		return sel, nil
	}
	var unknown []string
	for _, name := range names {
		if inv.Node(name) == nil {
			unknown = append(unknown, name)
			continue
		}
		sel[name] = true
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("no node %s in %s (nodes: %s)", quoteList(unknown), inv.File, strings.Join(inv.Names(), ", "))
	}
	return sel, nil
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// FileError is one problem of the inventory, at a line when known.
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errors is every problem found in an inventory, in file order.
type Errors []*FileError

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// LoadOptions say how to read an inventory.
type LoadOptions struct {
	// Nix evaluates a .nix inventory (nil: nix from PATH).
	Nix *nixrun.Nix
	// Profiles are the boards jetup knows: a node's profile must be one
	// (nil: not checked).
	Profiles *profiles.Set
	// Resolve turns a closure (a store path or a link to one) into its
	// store path, failing when this machine's store lacks it
	// (deploy.Nix.Resolve); nil checks the file system.
	Resolve func(string) (string, error)
}

// Bounds on what an inventory may make jetup hold: a fleet is thousands
// of nodes at most, an inventory far below a few MiB.
const (
	maxInventory = 8 << 20
	maxNodes     = 10000
)

// Load reads and validates the inventory in file: YAML (.yaml, .yml, or
// any other name), JSON (.json) or Nix (.nix, evaluated with `nix eval
// --json --file`). Every problem is reported at once, as Errors.
func Load(ctx context.Context, file string, o LoadOptions) (*Inventory, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(abs, ".nix") {
		return loadNix(ctx, abs, o)
	}
	data, err := safe.ReadFile(abs, maxInventory)
	if err != nil {
		return nil, Errors{{File: file, Msg: err.Error()}}
	}
	format := "yaml"
	if strings.HasSuffix(abs, ".json") {
		format = "json"
	}
	return Parse(abs, format, data, o)
}

// Parse validates an inventory's YAML or JSON text (file names it in
// errors and anchors relative paths).
func Parse(file, format string, data []byte, o LoadOptions) (*Inventory, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Errors{yamlError(file, err)}
	}
	if len(doc.Content) == 0 {
		return nil, Errors{{File: file, Msg: "empty inventory: it needs nodes: and phases:"}}
	}
	r := &reader{file: file, dir: filepath.Dir(file), o: o, lines: true}
	return r.read(format, doc.Content[0])
}

// yamlError turns the parser's complaint into a FileError at its line.
func yamlError(file string, err error) *FileError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var n int
	if _, serr := fmt.Sscanf(msg, "line %d:", &n); serr == nil {
		_, rest, _ := strings.Cut(msg, ":")
		return &FileError{File: file, Line: n, Msg: strings.TrimSpace(rest)}
	}
	return &FileError{File: file, Msg: msg}
}

// pos is where a key is written.
type pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
}

// reader reads one inventory document into an Inventory, collecting
// every problem at the line it is about.
type reader struct {
	file string
	dir  string // relative paths in the inventory are relative to it
	o    LoadOptions
	// lines is true when the YAML nodes' lines are the file's (YAML,
	// JSON); a Nix inventory's come from at instead.
	lines bool
	at    map[string]pos
	errs  Errors
}

// where is the position of the key at path (nodes.a.host), else of n
// when the document's lines are the file's, else of the nearest
// enclosing key.
func (r *reader) where(path string, n *yaml.Node) pos {
	if at, ok := r.at[path]; ok {
		return at
	}
	if r.lines && n != nil {
		return pos{File: r.file, Line: n.Line}
	}
	for p := path; p != ""; {
		if at, ok := r.at[p]; ok {
			return at
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return pos{File: r.file}
}

// mark records where the key at path is written, when the document's
// lines are the file's.
func (r *reader) mark(path string, n *yaml.Node) {
	if !r.lines {
		return
	}
	if r.at == nil {
		r.at = map[string]pos{}
	}
	r.at[path] = pos{File: r.file, Line: n.Line}
}

func (r *reader) fail(path string, n *yaml.Node, format string, args ...any) {
	p := r.where(path, n)
	r.errs = append(r.errs, &FileError{File: p.File, Line: p.Line, Msg: fmt.Sprintf(format, args...)})
}

// The keys an inventory may have at its top. `deploymentOrder` is the
// seeds' name for phases.
var topKeys = []string{"nodes", "phases", "deploymentOrder"}

func (r *reader) read(format string, root *yaml.Node) (*Inventory, error) {
	inv := &Inventory{File: r.file, Format: format}
	if root.Kind != yaml.MappingNode {
		r.fail("", root, "an inventory is a mapping with nodes: and phases:")
		return nil, r.errs
	}
	var nodesN, phasesN *yaml.Node
	phasesKey := ""
	for _, kv := range pairs(root) {
		k, v := kv[0], kv[1]
		r.mark(k.Value, k)
		switch k.Value {
		case "nodes":
			nodesN = v
		case "phases", "deploymentOrder":
			if phasesN != nil {
				r.fail(k.Value, k, "give the order once: phases and deploymentOrder are the same thing")
				continue
			}
			phasesN, phasesKey = v, k.Value
		default:
			r.fail(k.Value, k, "unknown key %q (known: %s)", k.Value, strings.Join(topKeys, ", "))
		}
	}
	if nodesN == nil {
		r.fail("", root, "missing nodes: name each machine (nodes: {ctrl-1: {host: ..., system: ...}})")
		return nil, r.errs
	}
	byName := r.nodes(nodesN)
	if phasesN == nil {
		r.fail("", root, "missing phases: list the nodes in the order they are pushed (phases: [[ctrl-1], [jetson-1, jetson-2]])")
	} else {
		inv.Phases = r.phases(phasesKey, phasesN, byName)
	}
	for _, ph := range inv.Phases {
		for _, name := range ph {
			inv.Nodes = append(inv.Nodes, byName[name])
		}
	}
	r.crossChecks(inv, byName)
	if len(r.errs) > 0 {
		sort.SliceStable(r.errs, func(i, j int) bool {
			a, b := r.errs[i], r.errs[j]
			return a.File == b.File && a.Line < b.Line
		})
		return nil, r.errs
	}
	return inv, nil
}

// pairs are a mapping's key and value nodes.
func pairs(m *yaml.Node) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		out = append(out, [2]*yaml.Node{m.Content[i], m.Content[i+1]})
	}
	return out
}

// nodes reads every node; the map holds those that read without a
// problem of their own (and the broken ones, as far as they read, so
// phases naming them do not add a second complaint).
func (r *reader) nodes(m *yaml.Node) map[string]*Node {
	byName := map[string]*Node{}
	if m.Kind != yaml.MappingNode {
		r.fail("nodes", m, "nodes is a mapping of name to node (ctrl-1: {host: ..., system: ...})")
		return byName
	}
	if len(m.Content)/2 > maxNodes {
		r.fail("nodes", m, "more than %d nodes", maxNodes)
		return byName
	}
	if len(m.Content) == 0 {
		r.fail("nodes", m, "no nodes: name at least one machine")
	}
	for _, kv := range pairs(m) {
		k, v := kv[0], kv[1]
		name := k.Value
		if prev, dup := byName[name]; dup {
			r.mark("nodes."+name, k)
			r.fail("nodes."+name, k, "node %q is defined twice (also at line %d)", name, prev.Line)
			continue
		}
		r.mark("nodes."+name, k)
		byName[name] = r.node(name, k, v)
	}
	return byName
}

// phases reads the order: each entry is a list of names (one phase) or a
// single name (a phase of one node).
func (r *reader) phases(key string, m *yaml.Node, byName map[string]*Node) [][]string {
	if m.Kind != yaml.SequenceNode {
		r.fail(key, m, "%s is a list of phases, each a list of node names ([[ctrl-1], [jetson-1, jetson-2]])", key)
		return nil
	}
	seen := map[string]int{}
	var out [][]string
	for i, item := range m.Content {
		path := fmt.Sprintf("%s[%d]", key, i)
		var names []*yaml.Node
		switch item.Kind {
		case yaml.ScalarNode:
			names = []*yaml.Node{item}
		case yaml.SequenceNode:
			names = item.Content
		default:
			r.fail(path, item, "phase %d is a list of node names", i+1)
			continue
		}
		if len(names) == 0 {
			r.fail(path, item, "phase %d is empty", i+1)
			continue
		}
		var phase []string
		for _, nn := range names {
			name := nn.Value
			n, ok := byName[name]
			switch {
			case nn.Kind != yaml.ScalarNode:
				r.fail(path, nn, "phase %d: a node is named by its name", i+1)
			case !ok:
				r.fail(path, nn, "phase %d names %q, which is not in nodes", i+1, name)
			case seen[name] > 0:
				r.fail(path, nn, "node %q is in phase %d and phase %d: a node is pushed once", name, seen[name], i+1)
			default:
				seen[name] = i + 1
				n.Phase = i + 1
				phase = append(phase, name)
			}
		}
		if len(phase) > 0 {
			out = append(out, phase)
		}
	}
	// Renumber: a phase that lost all its names keeps the others in order.
	for i, ph := range out {
		for _, name := range ph {
			byName[name].Phase = i + 1
		}
	}
	for name, n := range byName {
		if seen[name] == 0 {
			r.failAt(n, "node %q is in no phase: add it to %s", name, key)
		}
	}
	return out
}

func (r *reader) failAt(n *Node, format string, args ...any) {
	r.errs = append(r.errs, &FileError{File: n.File, Line: n.Line, Msg: fmt.Sprintf(format, args...)})
}
