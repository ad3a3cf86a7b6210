package fleet

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/jetup/jetup/internal/testboard"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/remote"
)

func newHostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// exportFleet is the issue's inventory plus a node on another port with a
// label and a boot mode, two of its three nodes pinned in jetup's
// known_hosts.
//
// builtins.storePath in the deploy-rs output needs the closures to be in
// the store, as they are on the host that pushed them: two store paths
// named like toplevels are added to the real store.
func exportFleet(t *testing.T) (*Inventory, string, map[string]ssh.PublicKey) {
	t.Helper()
	ctrl, other := storePath(t, "nixos-system-ctrl-1-24.11"), storePath(t, "nixos-system-other-24.11")
	file := write(t, "fleet.yaml", strings.Replace(issueInventory, ctrlSystem, ctrl, 1)+`  - [edge-1]
`)
	text := strings.Replace(readFile(t, file), "phases:", `  edge-1: {host: edge.lab, port: 2222, user: ops, system: `+other+`, mode: boot, labels: {site: north, tier: edge}}
phases:`, 1)
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := Load(context.Background(), file, LoadOptions{Profiles: testProfiles(t)})
	if err != nil {
		t.Fatal(err)
	}
	pins := filepath.Join(t.TempDir(), "known_hosts")
	keys := map[string]ssh.PublicKey{"ctrl-1": newHostKey(t), "edge-1": newHostKey(t)}
	for name, k := range keys {
		if err := (remote.KnownHosts{File: pins}).Pin(inv.Node(name).Target().Addr(), k); err != nil {
			t.Fatal(err)
		}
	}
	return inv, pins, keys
}

func export(t *testing.T, inv *Inventory, pins, format string) (*Exported, string) {
	t.Helper()
	dir := t.TempDir()
	o := ExportOptions{Format: format, Pins: pins, KnownHosts: filepath.Join(dir, "out.known_hosts"), SSHConfig: filepath.Join(dir, "out.ssh_config"),
		SystemOf: func(p string) string {
			if strings.HasSuffix(p, "-other-24.11") {
				return "aarch64-linux"
			}
			return ""
		},
		Now: func() time.Time { return time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC) }}
	e, err := Export(inv, o)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.nix")
	for f, text := range map[string]string{out: e.Nix, o.KnownHosts: e.KnownHosts, o.SSHConfig: e.SSHConfig} {
		if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e, out
}

// storePath adds a directory called name, holding a `system` file, to
// this machine's Nix store.
func storePath(t *testing.T, name string) string {
	t.Helper()
	testkit.NeedCommands(t, "nix-store")
	dir := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "system"), []byte("x86_64-linux"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nix-store", "--add", dir)
	cmd.Env = append(os.Environ(), testboard.NixEnv...)
	out, err := cmd.Output()
	testkit.Need(t, err == nil, "cannot add to this machine's Nix store: "+stderrOf(err))
	return strings.TrimSpace(string(out))
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// nixEval runs the real `nix eval --json --file FILE --apply EXPR`.
func nixEval(t *testing.T, file, apply string, v any) {
	t.Helper()
	cmd := exec.CommandContext(context.Background(), "nix", "--extra-experimental-features", "nix-command flakes", "eval", "--json", "--file", file, "--apply", apply)
	cmd.Env = append(os.Environ(), testboard.NixEnv...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nix eval: %v\n%s\nfile:\n%s", err, stderrOf(err), readFile(t, file))
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatal(err)
	}
}

// The known_hosts written for the other tool holds exactly the pinned
// keys, in the form OpenSSH looks up (port 22 bare, [host]:port).
func checkKnownHosts(t *testing.T, e *Exported, inv *Inventory, keys map[string]ssh.PublicKey) {
	t.Helper()
	if strings.Join(e.Unpinned, " ") != "jetson-1" {
		t.Errorf("unpinned %v", e.Unpinned)
	}
	for name, k := range keys {
		line := knownhosts.Line([]string{knownhosts.Normalize(inv.Node(name).Target().Addr())}, k)
		if !strings.Contains(e.KnownHosts, line+"\n") {
			t.Errorf("known_hosts lacks %s's key %q:\n%s", name, line, e.KnownHosts)
		}
	}
	if !strings.Contains(e.KnownHosts, "[edge.lab]:2222 ssh-ed25519 ") {
		t.Errorf("a node on port 2222 is written [host]:port:\n%s", e.KnownHosts)
	}
}

func TestTheColmenaHiveParsesBackWithNixEval(t *testing.T) {
	t.Parallel()
	testkit.NeedCommands(t, "nix")
	inv, pins, keys := exportFleet(t)
	e, out := export(t, inv, pins, FormatColmena)
	checkKnownHosts(t, e, inv, keys)
	// colmena calls each node with its module arguments and reads
	// deployment; the meta and the flake stay unevaluated.
	var got map[string]struct {
		TargetHost string   `json:"targetHost"`
		TargetPort int      `json:"targetPort"`
		TargetUser string   `json:"targetUser"`
		Tags       []string `json:"tags"`
	}
	nixEval(t, out, `h: builtins.mapAttrs (n: v: (v { name = n; nodes = { }; }).deployment) (removeAttrs h [ "meta" ])`, &got)
	c, j, edge := got["ctrl-1"], got["jetson-1"], got["edge-1"]
	if c.TargetHost != "10.0.0.10" || c.TargetPort != 22 || c.TargetUser != "root" || strings.Join(c.Tags, ",") != "role=server" {
		t.Errorf("ctrl-1 %+v", c)
	}
	if j.TargetHost != "10.0.0.20" || strings.Join(j.Tags, ",") != "rack=a,role=agent" {
		t.Errorf("jetson-1 %+v", j)
	}
	if edge.TargetHost != "edge.lab" || edge.TargetPort != 2222 || edge.TargetUser != "ops" || strings.Join(edge.Tags, ",") != "site=north,tier=edge" {
		t.Errorf("edge-1 %+v", edge)
	}
	// A built closure has no configuration colmena can build: it says so
	// instead of deploying an empty system.
	var asserts map[string][]struct {
		Assertion bool   `json:"assertion"`
		Message   string `json:"message"`
	}
	nixEval(t, out, `h: { inherit ((h."edge-1" { name = "edge-1"; nodes = { }; })) assertions; }`, &asserts)
	if a := asserts["assertions"]; len(a) != 1 || a[0].Assertion || !strings.Contains(a[0].Message, "jetup pushed node edge-1 as "+inv.Node("edge-1").Closure) {
		t.Errorf("edge-1's assertion %+v", asserts)
	}
	for _, want := range []string{"SSH_CONFIG_FILE=" + filepath.Join(filepath.Dir(out), "out.ssh_config") + " colmena apply",
		`imports = self.nixosConfigurations."jetson-1"._module.args.modules;`,
		`self = builtins.getFlake "` + filepath.Dir(inv.File) + `";`} {
		if !strings.Contains(e.Nix, want) {
			t.Errorf("the hive lacks %q:\n%s", want, e.Nix)
		}
	}
	for _, want := range []string{"Host edge.lab\n  HostName edge.lab\n  Port 2222\n  User ops\n  UserKnownHostsFile \"" + filepath.Join(filepath.Dir(out), "out.known_hosts") + "\"\n  StrictHostKeyChecking yes\n",
		"IdentityFile \"" + inv.Node("jetson-1").Identity + "\""} {
		if !strings.Contains(e.SSHConfig, want) {
			t.Errorf("the ssh config lacks %q:\n%s", want, e.SSHConfig)
		}
	}
}

func TestTheDeployRSNodesParseBackWithNixEval(t *testing.T) {
	t.Parallel()
	testkit.NeedCommands(t, "nix")
	inv, pins, keys := exportFleet(t)
	e, out := export(t, inv, pins, FormatDeployRS)
	checkKnownHosts(t, e, inv, keys)
	// A flake's self and deploy-rs stand in with what the file reads of
	// them: the configurations' pkgs and deploy-rs' activate functions
	// (which here say what they were given).
	apply := `f: let
  cfg = { pkgs.stdenv.hostPlatform.system = "aarch64-linux"; name = "jetson-1-config"; };
  self = { nixosConfigurations."jetson-1" = cfg; };
  deploy-rs.lib = builtins.mapAttrs (sys: _: { activate = {
    nixos = c: "nixos " + sys + " " + c.name;
    custom = base: cmd: "custom " + sys + " " + base.name + " " + base.outPath + " " + cmd;
  }; }) { aarch64-linux = 1; x86_64-linux = 1; };
in builtins.mapAttrs (n: v: { inherit (v) hostname sshUser sshOpts; path = v.profiles.system.path; user = v.profiles.system.user; })
  (f { inherit self deploy-rs; }).nodes`
	var got map[string]struct {
		Hostname string   `json:"hostname"`
		SSHUser  string   `json:"sshUser"`
		SSHOpts  []string `json:"sshOpts"`
		Path     string   `json:"path"`
		User     string   `json:"user"`
	}
	nixEval(t, out, apply, &got)
	kh := filepath.Join(filepath.Dir(out), "out.known_hosts")
	c, j, edge := got["ctrl-1"], got["jetson-1"], got["edge-1"]
	if c.Hostname != "10.0.0.10" || c.SSHUser != "root" || c.User != "root" ||
		strings.Join(c.SSHOpts, " ") != "-p 22 -o UserKnownHostsFile="+kh+" -o StrictHostKeyChecking=yes" ||
		c.Path != "custom x86_64-linux nixos-system-ctrl-1-24.11 "+inv.Node("ctrl-1").Closure+" ./bin/switch-to-configuration switch" {
		t.Errorf("ctrl-1 %+v", c)
	}
	if j.Path != "nixos aarch64-linux jetson-1-config" || !strings.Contains(strings.Join(j.SSHOpts, " "), "-i "+inv.Node("jetson-1").Identity+" -o IdentitiesOnly=yes") {
		t.Errorf("jetson-1 %+v", j)
	}
	if edge.Hostname != "edge.lab" || edge.SSHUser != "ops" || edge.SSHOpts[1] != "2222" ||
		edge.Path != "custom aarch64-linux nixos-system-other-24.11 "+inv.Node("edge-1").Closure+" ./bin/switch-to-configuration boot" {
		t.Errorf("edge-1 %+v", edge)
	}
}

func TestNixStringsEscapeWhatNixWouldInterpret(t *testing.T) {
	t.Parallel()
	if got := nixString("a\"b\\c${d}\n"); got != `"a\"b\\c\${d}\n"` {
		t.Errorf("%s", got)
	}
}
