package fleet

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/remote"
)

// Handing on: a fleet bigger than a bench goes on in the tools fleets
// already use. Export writes the inventory as a colmena hive or as
// deploy-rs nodes, with the host keys jetup pinned written as a
// known_hosts file those tools' ssh is pointed at (StrictHostKeyChecking
// yes), so the trust jetup established is not thrown away for
// accept-new.

// Export formats.
const (
	FormatColmena  = "colmena"
	FormatDeployRS = "deploy-rs"
)

// Formats are the export formats.
var Formats = []string{FormatColmena, FormatDeployRS}

// ExportOptions say where the exported files go.
type ExportOptions struct {
	Format string
	// Pins is jetup's known_hosts, where the nodes' keys are pinned.
	Pins string
	// KnownHosts is the path the output points its ssh at; for colmena,
	// SSHConfig is the ssh config that does (colmena takes it from
	// SSH_CONFIG_FILE). Both are written by the caller from Exported.
	KnownHosts string
	SSHConfig  string
	// Name is the output's file name, for the line that says how to use
	// it ("deploy.nix" when empty).
	Name string
	// SystemOf reads a closure's system double (its `system` file); ""
	// when unknown.
	SystemOf func(closure string) string
	// Now stamps the header (time.Now when nil).
	Now func() time.Time
}

// Exported is what Export made.
type Exported struct {
	// Nix is the hive (colmena) or the deploy-rs nodes.
	Nix        string
	KnownHosts string
	SSHConfig  string // colmena only
	// Unpinned are the nodes jetup has no key pinned for: their first
	// contact is left to the other tool's ssh, which refuses them
	// (StrictHostKeyChecking yes) until a push with jetup pins them.
	Unpinned []string
	// Updates are the nodes left out because they take an update (a .swu
	// or a sysupdate directory), which colmena and deploy-rs cannot apply.
	Updates []string
}

// Export renders inv in o.Format.
func Export(inv *Inventory, o ExportOptions) (*Exported, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	inv, updates := inv.systemNodes()
	kh, unpinned, err := exportKnownHosts(inv, o.Pins)
	if err != nil {
		return nil, err
	}
	e := &Exported{KnownHosts: kh, Unpinned: unpinned, Updates: updates}
	switch o.Format {
	case FormatColmena:
		e.Nix = colmenaHive(inv, o)
		e.SSHConfig = colmenaSSHConfig(inv, o)
	case FormatDeployRS:
		e.Nix = deployRSNodes(inv, o)
	default:
		return nil, fmt.Errorf("unknown format %q (formats: %s)", o.Format, strings.Join(Formats, ", "))
	}
	return e, nil
}

// exportKnownHosts is every key pinned for the nodes, in known_hosts
// form, one node after another.
func exportKnownHosts(inv *Inventory, pins string) (string, []string, error) {
	var b strings.Builder
	var unpinned []string
	kh := remote.KnownHosts{File: pins}
	for _, n := range inv.Nodes {
		addr := n.Target().Addr()
		keys, err := kh.Pinned(addr)
		if err != nil {
			return "", nil, fmt.Errorf("jetup's known_hosts %s: %w", pins, err)
		}
		if len(keys) == 0 {
			unpinned = append(unpinned, n.Name)
			continue
		}
		fmt.Fprintf(&b, "# %s\n", n.Name)
		for _, k := range keys {
			b.WriteString(knownhosts.Line([]string{knownhosts.Normalize(addr)}, k) + "\n")
		}
	}
	return b.String(), unpinned, nil
}

// nixString is s as a Nix string literal.
func nixString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", `\${`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return `"` + r.Replace(s) + `"`
}

func nixList(items []string) string {
	if len(items) == 0 {
		return "[ ]"
	}
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = nixString(s)
	}
	return "[ " + strings.Join(q, " ") + " ]"
}

// tags are a node's labels as colmena tags (key=value), and its role.
func tags(n *Node) []string {
	var out []string
	for k, v := range n.Labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	if n.Role != "" {
		out = append(out, "role="+n.Role)
	}
	return out
}

func header(inv *Inventory, o ExportOptions, tool string) string {
	return fmt.Sprintf("# Made by `jetup fleet export --format %s` from %s\n# on %s. The phases jetup keeps (%s) are %s's to follow from here.\n",
		o.Format, inv.File, o.Now().UTC().Format(time.RFC3339), phaseText(inv), tool)
}

func phaseText(inv *Inventory) string {
	var ph []string
	for _, p := range inv.Phases {
		ph = append(ph, strings.Join(p, " "))
	}
	return strings.Join(ph, ", then ")
}

// flakeOf splits a node's flake installable into the flake's reference
// and the configuration's attribute; attr is a NAME of
// nixosConfigurations unless it holds a dot (an attribute path, used as
// given, as deploy does).
func flakeOf(n *Node) (ref, attr string, config bool) {
	ref, attr, _ = strings.Cut(n.Flake, "#")
	return ref, attr, !strings.Contains(attr, ".")
}

// flakeExpr is the Nix expression of a flake node's NixOS configuration
// (config) or toplevel: through self when the flake is the inventory's
// own directory, else builtins.getFlake (needs --impure).
func flakeExpr(inv *Inventory, n *Node, self string) string {
	ref, attr, config := flakeOf(n)
	f := "(builtins.getFlake " + nixString(ref) + ")"
	if ref == filepath.Dir(inv.File) && self != "" {
		f = self
	}
	if config {
		return f + ".nixosConfigurations." + nixString(attr)
	}
	return f + "." + attr
}

// colmenaHive is a hive.nix: each node's deployment (targetHost,
// targetPort, targetUser, tags) and its configuration. A flake node
// imports the modules of its nixosConfigurations entry and evaluates with
// its pkgs; a node pushed as a built closure has no configuration colmena
// could build, so it carries an assertion that stops `colmena apply` on
// it (and only on it) with the reason, instead of deploying an empty
// system.
func colmenaHive(inv *Inventory, o ExportOptions) string {
	var b strings.Builder
	b.WriteString(header(inv, o, "colmena"))
	fmt.Fprintf(&b, "# jetup's pinned host keys are in %s; colmena's ssh checks them through\n# the ssh config beside it:\n#\n#   SSH_CONFIG_FILE=%s colmena apply\n", o.KnownHosts, o.SSHConfig)
	usesFlake := false
	for _, n := range inv.Nodes {
		usesFlake = usesFlake || n.Flake != ""
	}
	b.WriteString("let\n")
	if usesFlake {
		fmt.Fprintf(&b, "  self = builtins.getFlake %s;\n", nixString(filepath.Dir(inv.File)))
	}
	b.WriteString("in {\n  meta = {\n")
	fmt.Fprintf(&b, "    description = %s;\n", nixString("fleet "+filepath.Base(inv.File)+", exported by jetup"))
	var pinned []string
	for _, n := range inv.Nodes {
		if _, _, config := flakeOf(n); n.Flake != "" && config {
			pinned = append(pinned, fmt.Sprintf("      %s = %s.pkgs;\n", nixString(n.Name), flakeExpr(inv, n, "self")))
		}
	}
	if len(pinned) > 0 {
		b.WriteString("    nodeNixpkgs = {\n" + strings.Join(pinned, "") + "    };\n")
	}
	b.WriteString("  };\n")
	for _, n := range inv.Nodes {
		fmt.Fprintf(&b, "\n  %s = { name, nodes, ... }: {\n", nixString(n.Name))
		b.WriteString("    deployment = {\n")
		fmt.Fprintf(&b, "      targetHost = %s;\n      targetPort = %d;\n      targetUser = %s;\n      tags = %s;\n",
			nixString(n.Host), n.Target().PortOr22(), nixString(n.User), nixList(tags(n)))
		b.WriteString("    };\n")
		switch _, _, config := flakeOf(n); {
		case n.Flake != "" && config:
			fmt.Fprintf(&b, "    imports = %s._module.args.modules;\n", flakeExpr(inv, n, "self"))
		default:
			what := n.Closure
			if n.Flake != "" {
				what = n.Flake
			}
			fmt.Fprintf(&b, "    # jetup pushed %s, which is no NixOS configuration colmena can build.\n", what)
			fmt.Fprintf(&b, "    assertions = [ { assertion = false; message = %s; } ];\n",
				nixString(fmt.Sprintf("jetup pushed node %s as %s; give it its NixOS modules here (imports = [ ... ]) before colmena deploys it", n.Name, what)))
		}
		b.WriteString("  };\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// colmenaSSHConfig points colmena's ssh at the exported known_hosts,
// strictly, with each node's port and key.
func colmenaSSHConfig(inv *Inventory, o ExportOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Made by `jetup fleet export --format colmena` from %s.\n# Use it with: SSH_CONFIG_FILE=%s colmena apply\n", inv.File, o.SSHConfig)
	for _, n := range inv.Nodes {
		fmt.Fprintf(&b, "\n# %s\nHost %s\n  HostName %s\n  Port %d\n  User %s\n", n.Name, n.Host, n.Host, n.Target().PortOr22(), n.User)
		if n.Identity != "" {
			fmt.Fprintf(&b, "  IdentityFile %s\n  IdentitiesOnly yes\n", sshQuote(n.Identity))
		}
		fmt.Fprintf(&b, "  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n", sshQuote(o.KnownHosts))
	}
	return b.String()
}

// sshQuote quotes a path for ssh_config (the inventory's checks keep
// quotes and control characters out of it) and doubles % (ssh expands
// %-tokens in these options).
func sshQuote(p string) string { return `"` + strings.ReplaceAll(p, "%", "%%") + `"` }

// deployRSNodes is a file a flake imports for its deploy output:
//
//	deploy = import ./deploy.nix { inherit self deploy-rs; };
//
// Each node's sshOpts point ssh at the exported known_hosts, strictly.
// A flake node activates its nixosConfigurations entry
// (activate.nixos); a built closure or a toplevel attribute activates its
// switch-to-configuration (activate.custom).
func deployRSNodes(inv *Inventory, o ExportOptions) string {
	name := o.Name
	if name == "" {
		name = "deploy.nix"
	}
	var b strings.Builder
	b.WriteString(header(inv, o, "deploy-rs"))
	fmt.Fprintf(&b, "# jetup's pinned host keys are in %s; each node's sshOpts point ssh at them.\n# In flake.nix:  deploy = import ./%s { inherit self deploy-rs; };\n",
		o.KnownHosts, name)
	b.WriteString("{ self, deploy-rs }:\n{\n  nodes = {\n")
	for _, n := range inv.Nodes {
		opts := []string{"-p", strconv.Itoa(n.Target().PortOr22())}
		if n.Identity != "" {
			opts = append(opts, "-i", n.Identity, "-o", "IdentitiesOnly=yes")
		}
		opts = append(opts, "-o", "UserKnownHostsFile="+o.KnownHosts, "-o", "StrictHostKeyChecking=yes")
		fmt.Fprintf(&b, "    %s = {\n      hostname = %s;\n      sshUser = %s;\n      sshOpts = %s;\n",
			nixString(n.Name), nixString(n.Host), nixString(n.User), nixList(opts))
		if n.Mode == deploy.Boot {
			b.WriteString("      profiles.system.activationTimeout = 600;\n")
		}
		fmt.Fprintf(&b, "      profiles.system.user = \"root\";\n      profiles.system.path = %s;\n    };\n", deployRSPath(inv, n, o))
	}
	b.WriteString("  };\n}\n")
	return b.String()
}

// deployRSPath is the profile's path expression.
func deployRSPath(inv *Inventory, n *Node, o ExportOptions) string {
	goal := "switch"
	if n.Mode == deploy.Boot {
		goal = "boot"
	}
	activate := nixString("./bin/switch-to-configuration " + goal)
	if n.Flake != "" {
		expr := flakeExpr(inv, n, "self")
		if _, _, config := flakeOf(n); config {
			return fmt.Sprintf("deploy-rs.lib.${%s.pkgs.stdenv.hostPlatform.system}.activate.nixos %s", expr, expr)
		}
		return fmt.Sprintf("deploy-rs.lib.${%s.system}.activate.custom %s %s", expr, expr, activate)
	}
	system := ""
	if o.SystemOf != nil {
		system = o.SystemOf(n.Closure)
	}
	if system == "" {
		system = "x86_64-linux"
	}
	base := fmt.Sprintf("{ name = %s; outPath = builtins.storePath %s; }", nixString(storeName(n.Closure)), nixString(n.Closure))
	return fmt.Sprintf("deploy-rs.lib.%s.activate.custom %s %s", nixString(system), base, activate)
}

// storeName is a store path's name part.
func storeName(p string) string {
	base := filepath.Base(p)
	if _, name, ok := strings.Cut(base, "-"); ok {
		return name
	}
	return base
}
