package fleet

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/safe"
)

// nodeKeys are the keys a node may have. The seeds' targetHost (and
// colmena's targetUser and targetPort) are accepted for host, user and
// port. To add a field (issue 19's `update:`, how a node takes updates):
// a line here, a field on Node, and its case in reader.node with its
// checks; Node's JSON then carries it into fleet.json.
var nodeKeys = []string{"host", "targetHost", "port", "targetPort", "user", "targetUser", "identity", "host_key",
	"profile", "system", "update", "mode", "role", "labels", "k3s_token_file"}

// aliases map the other tools' names to jetup's.
var aliases = map[string]string{"targetHost": "host", "targetPort": "port", "targetUser": "user"}

var (
	// fingerprintRe is a SHA256 fingerprint as ssh-keygen -l prints it.
	fingerprintRe = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}=?$`)
	// storePathRe is /nix/store/<32 chars of Nix's base32>-<name>.
	storePathRe = regexp.MustCompile(`^/nix/store/[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+._?=-]+$`)
	// tokenPathRe is where a k3s token may be written: an absolute path
	// of plain characters (it is a file a NixOS option names).
	tokenPathRe = regexp.MustCompile(`^/[A-Za-z0-9._/@+-]+$`)
	// labelKeyRe and labelValueRe follow Kubernetes' label syntax: labels
	// often are the node's Kubernetes labels.
	labelKeyRe   = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$`)
	labelValueRe = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?)?$`)
)

// maxRole bounds a role's free text.
const maxRole = 64

// node reads one node's mapping.
func (r *reader) node(name string, k, v *yaml.Node) *Node {
	path := "nodes." + name
	at := r.where(path, k)
	n := &Node{Name: name, File: at.File, Line: at.Line, Mode: deploy.Switch}
	if err := safe.Name("node", name); err != nil {
		r.fail(path, k, "%v (a node's name names its run record)", err)
	}
	if v.Kind != yaml.MappingNode {
		r.fail(path, v, "node %q is a mapping of its fields (host:, system:, ...)", name)
		return n
	}
	set := map[string]string{} // canonical key -> the key as written
	var mode string
	for _, kv := range pairs(v) {
		key, val := kv[0], kv[1]
		p := path + "." + key.Value
		r.mark(p, key)
		canon := key.Value
		if a, ok := aliases[canon]; ok {
			canon = a
		}
		if !contains(nodeKeys, key.Value) {
			r.fail(p, key, "unknown key %q in node %q (known: %s)", key.Value, name, strings.Join(nodeKeys, ", "))
			continue
		}
		if prev, dup := set[canon]; dup {
			r.fail(p, key, "node %q gives %s twice (%s and %s)", name, canon, prev, key.Value)
			continue
		}
		set[canon] = key.Value
		switch canon {
		case "host":
			n.Host = r.text(p, val)
		case "port":
			n.Port = r.port(p, val)
		case "user":
			n.User = r.text(p, val)
		case "identity":
			n.Identity = r.text(p, val)
		case "host_key":
			n.HostKey = r.text(p, val)
		case "profile":
			n.Profile = r.text(p, val)
		case "system":
			n.System = r.text(p, val)
		case "update":
			n.Update = r.text(p, val)
		case "mode":
			mode = r.text(p, val)
		case "role":
			n.Role = r.text(p, val)
		case "labels":
			n.Labels = r.labels(p, val)
		case "k3s_token_file":
			n.K3sTokenFile = r.text(p, val)
		}
	}
	r.checkNode(n, path, k, set, mode)
	return n
}

// text is a scalar as a string; anything else is a problem.
func (r *reader) text(path string, v *yaml.Node) string {
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		r.fail(path, v, "%s is a single value", lastKey(path))
		return ""
	}
	for _, c := range v.Value {
		if c < 0x20 || c == 0x7f {
			r.fail(path, v, "%s holds a control character", lastKey(path))
			return ""
		}
	}
	return v.Value
}

func (r *reader) port(path string, v *yaml.Node) int {
	s := r.text(path, v)
	if s == "" {
		return 0
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 {
		r.fail(path, v, "port %q is not a TCP port (1-65535)", s)
		return 0
	}
	return p
}

func (r *reader) labels(path string, v *yaml.Node) map[string]string {
	if v.Kind != yaml.MappingNode {
		r.fail(path, v, "labels is a mapping of key: value")
		return nil
	}
	out := map[string]string{}
	for _, kv := range pairs(v) {
		key := kv[0].Value
		val := r.text(path+"."+key, kv[1])
		switch {
		case !labelKeyRe.MatchString(key):
			r.fail(path+"."+key, kv[0], "label key %q: letters, digits, '.', '_', '-' and '/', starting and ending with a letter or digit", key)
		case !labelValueRe.MatchString(val):
			r.fail(path+"."+key, kv[1], "label %s=%q: a value is up to 63 letters, digits, '.', '_' and '-', starting and ending with a letter or digit", key, val)
		default:
			out[key] = val
		}
	}
	return out
}

func lastKey(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[i+1:]
	}
	return path
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// checkNode applies the rules of each field once the node is read.
func (r *reader) checkNode(n *Node, path string, k *yaml.Node, set map[string]string, mode string) {
	field := func(f string) string { return path + "." + set[f] }
	if n.Host == "" {
		if set["host"] == "" {
			r.fail(path, k, "node %q has no host: give its address (host: 10.0.0.20)", n.Name)
		}
	} else if err := remote.CheckHost(n.Host); err != nil {
		r.fail(field("host"), k, "%v", err)
	}
	if n.User == "" {
		n.User = "root"
	} else if err := remote.CheckUser(n.User); err != nil {
		r.fail(field("user"), k, "%v", err)
	}
	if n.Identity != "" {
		n.Identity = r.localPath(n.Identity)
		if fi, err := os.Stat(n.Identity); err != nil {
			r.fail(field("identity"), k, "identity %s: %v", n.Identity, unwrapPathError(err))
		} else if !fi.Mode().IsRegular() {
			r.fail(field("identity"), k, "identity %s is not a file", n.Identity)
		} else if err := n.Target().Check(); err != nil {
			r.fail(field("identity"), k, "%v", err)
		}
	}
	if n.HostKey != "" && !fingerprintRe.MatchString(n.HostKey) {
		r.fail(field("host_key"), k, "host_key %q is not a fingerprint: copy it as ssh-keygen -lf prints it (SHA256:<43 characters>)", n.HostKey)
	}
	if n.Profile != "" && r.o.Profiles != nil {
		if _, ok := r.o.Profiles.Get(n.Profile); !ok {
			r.fail(field("profile"), k, "unknown profile %q (known: %s)", n.Profile, strings.Join(r.o.Profiles.Names(), ", "))
		}
	}
	if m, err := deploy.ParseMode(mode); mode != "" && err != nil {
		r.fail(field("mode"), k, "%v", err)
	} else if mode != "" {
		n.Mode = m
	}
	if len(n.Role) > maxRole {
		r.fail(field("role"), k, "role is longer than %d characters", maxRole)
	}
	if n.K3sTokenFile != "" {
		switch {
		case !tokenPathRe.MatchString(n.K3sTokenFile) || strings.Contains(n.K3sTokenFile, "/../") || strings.HasSuffix(n.K3sTokenFile, "/.."):
			r.fail(field("k3s_token_file"), k, "k3s_token_file %q is not an absolute path of plain characters", n.K3sTokenFile)
		case !n.K3s():
			r.fail(field("k3s_token_file"), k, "k3s_token_file is for k3s nodes: give node %q role: agent (or role: server, for a server joining the first)", n.Name)
		}
	}
	if set["update"] != "" {
		r.update(n, field("update"), k, set, mode)
		return
	}
	r.system(n, field("system"), k, set["system"] != "")
}

// system resolves the node's system: a flake installable (REF#NAME, a
// relative REF made absolute), a store path, or a link to one beside the
// inventory.
func (r *reader) system(n *Node, path string, k *yaml.Node, given bool) {
	s := n.System
	switch {
	case s == "" && !given:
		r.fail(path, k, "node %q has no system: give a built closure (/nix/store/...-nixos-system-...) or FLAKE#NAME (or update: a .swu or a sysupdate directory)", n.Name)
	case s == "":
	case strings.Contains(s, "#"):
		ref, name, _ := strings.Cut(s, "#")
		if isLocalFlake(ref) {
			ref = r.localPath(strings.TrimPrefix(ref, "path:"))
		}
		n.Flake = ref + "#" + name
		if _, err := deploy.FlakeInstallable(n.Flake); err != nil {
			r.fail(path, k, "system %q: expected FLAKE#NAME, for example .#jetson-1", s)
		}
	default:
		p := s
		if !storePathRe.MatchString(p) {
			p = r.localPath(p)
		}
		resolved, err := r.resolve(p)
		if err != nil {
			r.fail(path, k, "system %s is not in this machine's Nix store: %v (build it first, or give FLAKE#NAME to have jetup build it)", s, err)
			return
		}
		n.Closure = resolved
	}
}

// isLocalFlake reports whether a flake reference names a directory here
// (., ./x, ../x, /abs, path:...), which is relative to the inventory.
func isLocalFlake(ref string) bool {
	return ref == "." || ref == ".." || strings.HasPrefix(ref, "./") || strings.HasPrefix(ref, "../") ||
		strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "path:")
}

// localPath makes p absolute: ~ is the home, a relative path is relative
// to the inventory's directory (the inventory is often run from
// elsewhere).
func (r *reader) localPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home := safe.Home(); home != "" {
			return filepath.Join(home, rest)
		}
	}
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(r.dir, p)
}

func (r *reader) resolve(p string) (string, error) {
	if r.o.Resolve != nil {
		return r.o.Resolve(p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", unwrapPathError(err)
	}
	if !storePathRe.MatchString(real) {
		return "", fmt.Errorf("it resolves to %s, not a store path", real)
	}
	return real, nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// crossChecks are the rules between nodes: one node a host, a token
// taken from a server of an earlier phase.
func (r *reader) crossChecks(inv *Inventory, byName map[string]*Node) {
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return byName[names[i]].Line < byName[names[j]].Line })
	addr := map[string]*Node{}
	firstServer := 0
	for _, ph := range inv.Phases {
		for _, name := range ph {
			if n := byName[name]; n.Role == RoleServer && (firstServer == 0 || n.Phase < firstServer) {
				firstServer = n.Phase
			}
		}
	}
	for _, name := range names {
		n := byName[name]
		if n.Host != "" {
			key := strings.ToLower(n.Target().Addr())
			if prev, dup := addr[key]; dup {
				r.failAt(n, "nodes %q and %q have the same address %s: one machine is one node", prev.Name, n.Name, n.Target().Addr())
			} else {
				addr[key] = n
			}
		}
		if n.K3sTokenFile != "" && n.Phase > 0 && (firstServer == 0 || firstServer >= n.Phase) {
			r.failAt(n, "node %q takes a k3s token (k3s_token_file), but no role: server node is in an earlier phase to take it from", n.Name)
		}
	}
}
