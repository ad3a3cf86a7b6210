package fleet

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/jetup/jetup/step"
)

// A node may take an update instead of a NixOS system (issue 19): `update:
// DIR|FILE`, a systemd-sysupdate directory (its files and SHA256SUMS) or
// an SWUpdate .swu bundle (a cpio archive), applied on the node as `jetup
// update` applies it (image.Update over the node's pinned connection), so a
// mixed fleet (ISAR Debian nodes beside NixOS ones) updates in one phased
// run. The inventory reads and checks the field; `fleet push` does not
// apply it yet and refuses a selection holding such a node (Pushable)
// before anything starts, naming the `jetup update` command for it.

// Update kinds.
const (
	UpdateSysupdate = "sysupdate"
	UpdateSWU       = "swu"
)

// cpio's "new ASCII" magics: what a .swu starts with (SWUpdate writes the
// crc form, 070702; 070701 is read too).
var cpioMagics = []string{"070701", "070702"}

// update checks an update node: no system, mode or k3s token beside it
// (they belong to a NixOS push), and a path that is a sysupdate directory
// or a .swu. The update's own checks (every sha256, signatures, the
// board's hardware) run when it is applied, before a byte is sent.
func (r *reader) update(n *Node, path string, k *yaml.Node, set map[string]string, mode string) {
	field := func(f string) string { return "nodes." + n.Name + "." + set[f] }
	if set["system"] != "" {
		r.fail(field("system"), k, "node %q gives both system and update: a node is pushed a NixOS system or takes an update, not both", n.Name)
	}
	if mode != "" {
		r.fail(field("mode"), k, "mode is for a system push: an update node takes its update the update's own way (systemd-sysupdate or swupdate)")
	}
	if n.K3sTokenFile != "" {
		r.fail(field("k3s_token_file"), k, "k3s_token_file is written before a NixOS system is activated: an update node's k3s takes its token from its image")
	}
	p := r.localPath(n.Update)
	kind, err := updateKind(p)
	if err != nil {
		r.fail(path, k, "update %s: %v", n.Update, err)
		return
	}
	n.Update, n.UpdateKind = p, kind
}

// updateKind tells a sysupdate directory from a .swu, or says what p is
// not.
func updateKind(p string) (string, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return "", unwrapPathError(err)
	}
	switch {
	case fi.IsDir():
		if _, err := os.Stat(filepath.Join(p, "SHA256SUMS")); err != nil {
			return "", errors.New("a directory without SHA256SUMS: a sysupdate directory holds its files and their SHA256SUMS")
		}
		return UpdateSysupdate, nil
	case !fi.Mode().IsRegular():
		return "", errors.New("neither a file nor a directory")
	}
	f, err := os.Open(p)
	if err != nil {
		return "", unwrapPathError(err)
	}
	defer f.Close()
	magic := make([]byte, 6)
	if _, err := io.ReadFull(f, magic); err == nil {
		for _, m := range cpioMagics {
			if string(magic) == m {
				return UpdateSWU, nil
			}
		}
	}
	return "", errors.New("not a .swu (a cpio archive) nor a sysupdate directory (jetup inspect says what it is; a disk image is written with jetup write)")
}

// Pushable refuses a selection that holds update nodes: fleet push does not
// apply update: yet. The refusal names each node's jetup update command.
func (inv *Inventory) Pushable(only []string) error {
	sel, err := inv.Select(only)
	if err != nil {
		return nil // the run refuses --only itself
	}
	var names, cmds []string
	for _, n := range inv.Nodes {
		if sel[n.Name] && n.Update != "" {
			names = append(names, n.Name)
			cmds = append(cmds, updateCommand(n))
		}
	}
	if len(names) == 0 {
		return nil
	}
	return step.Refuse("update-node", fmt.Sprintf("apply each with jetup update (%s), and push the others with --only", strings.Join(cmds, "; ")),
		"node%s %s take%s an update (update:), which fleet push does not apply yet; nothing was sent",
		plural(len(names)), strings.Join(names, ", "), map[bool]string{true: "s", false: ""}[len(names) == 1])
}

// updateCommand is the jetup update command line for n.
func updateCommand(n *Node) string {
	c := "jetup update --host " + n.Host
	if n.Port != 0 && n.Port != 22 {
		c += fmt.Sprintf(" --port %d", n.Port)
	}
	if n.User != "" && n.User != "root" {
		c += " --user " + n.User
	}
	if n.Identity != "" {
		c += " --identity " + n.Identity
	}
	if n.HostKey != "" {
		c += " --accept-host-key " + n.HostKey
	}
	return c + " " + n.Update
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// systemNodes is the inventory without its update nodes (and phases left
// empty by them), and the names of those left out.
func (inv *Inventory) systemNodes() (*Inventory, []string) {
	out := *inv
	out.Nodes, out.Phases = nil, nil
	var left []string
	for _, n := range inv.Nodes {
		if n.Update != "" {
			left = append(left, n.Name)
			continue
		}
		out.Nodes = append(out.Nodes, n)
	}
	if left == nil {
		return inv, nil
	}
	for _, ph := range inv.Phases {
		var keep []string
		for _, name := range ph {
			if n := inv.Node(name); n != nil && n.Update == "" {
				keep = append(keep, name)
			}
		}
		if len(keep) > 0 {
			out.Phases = append(out.Phases, keep)
		}
	}
	return &out, left
}
