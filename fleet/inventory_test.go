package fleet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/internal/testkit"
	"github.com/jetup/jetup/profiles"
)

// Store paths the inventory tests name. resolveIn says which exist in
// "this machine's store": the store is the edge a push resolves closures
// through (deploy.Nix.Resolve), so the tests give it its answers.
const (
	ctrlSystem  = "/nix/store/3x5aq6bnx6m5j2wkvd7q9r4h0a1c8z2f-nixos-system-ctrl-1-24.11"
	otherSystem = "/nix/store/9a7bq6bnx6m5j2wkvd7q9r4h0a1c8z2f-nixos-system-other-24.11"
)

func resolveIn(paths ...string) func(string) (string, error) {
	return func(p string) (string, error) {
		for _, q := range paths {
			if p == q {
				return p, nil
			}
		}
		return "", errors.New("no such file or directory")
	}
}

func testProfiles(t testing.TB) *profiles.Set {
	t.Helper()
	set, errs := profiles.Load(assets.Profiles(), "")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return set
}

// write puts an inventory (and an identity file) in a fresh directory.
func write(t *testing.T, name, text string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bench"), []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func load(t *testing.T, file string) (*Inventory, error) {
	t.Helper()
	return Load(context.Background(), file, LoadOptions{Profiles: testProfiles(t), Resolve: resolveIn(ctrlSystem, otherSystem)})
}

// The issue's own example, whole.
const issueInventory = `nodes:                      # name -> node
  ctrl-1:   {host: 10.0.0.10, user: root, role: server, system: ` + ctrlSystem + `}
  jetson-1: {host: 10.0.0.20, profile: orin-nano-devkit, role: agent, system: .#jetson-1,
             identity: ./bench, host_key: "SHA256:uOM8hmYFq5jXoTBWgZVlTg2L6BiV3QlRr5W2uT3IMcA", labels: {rack: a},
             k3s_token_file: /var/lib/rancher/k3s/agent/token}
phases:                     # in order; the nodes of one phase run in parallel
  - [ctrl-1]
  - [jetson-1]
`

func TestTheIssuesInventoryReadsWithDefaultsAndAbsolutePaths(t *testing.T) {
	t.Parallel()
	file := write(t, "fleet.yaml", issueInventory)
	inv, err := load(t, file)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(file)
	if got := strings.Join(inv.Names(), " "); got != "ctrl-1 jetson-1" || len(inv.Phases) != 2 || inv.Format != "yaml" {
		t.Fatalf("nodes %s, phases %v", got, inv.Phases)
	}
	c, j := inv.Node("ctrl-1"), inv.Node("jetson-1")
	if c.Closure != ctrlSystem || c.Flake != "" || c.User != "root" || c.Mode != deploy.Switch || c.Phase != 1 || c.Line != 2 || c.Profile != "" {
		t.Errorf("ctrl-1 %+v", c)
	}
	if j.Flake != dir+"#jetson-1" || j.Identity != filepath.Join(dir, "bench") || j.Phase != 2 || j.Labels["rack"] != "a" ||
		j.User != "root" || j.Line != 3 || j.HostKey == "" || j.K3sTokenFile == "" || j.SystemKey() == c.SystemKey() {
		t.Errorf("jetson-1 %+v", j)
	}
	if tg := j.Target(); tg.String() != "root@10.0.0.20" || tg.Identity != j.Identity {
		t.Errorf("target %+v", tg)
	}
}

// The seeds' shape: targetHost for host, deploymentOrder for phases (a
// single name is a phase of one), colmena's targetUser and targetPort.
func TestTheSeedsShapeIsAcceptedToo(t *testing.T) {
	t.Parallel()
	file := write(t, "seed.yaml", `nodes:
  a: {targetHost: a.lab, targetUser: admin, targetPort: 2222, system: `+ctrlSystem+`}
  b: {targetHost: b.lab, system: `+ctrlSystem+`, mode: boot}
  c: {host: c.lab, system: `+otherSystem+`}
deploymentOrder:
  - a
  - [b, c]
`)
	inv, err := load(t, file)
	if err != nil {
		t.Fatal(err)
	}
	a, b, c := inv.Node("a"), inv.Node("b"), inv.Node("c")
	if a.Host != "a.lab" || a.User != "admin" || a.Port != 2222 || a.Phase != 1 || b.Phase != 2 || c.Phase != 2 || b.Mode != deploy.Boot {
		t.Errorf("a %+v b %+v c %+v", a, b, c)
	}
	if a.SystemKey() != b.SystemKey() || a.SystemKey() == c.SystemKey() {
		t.Error("a and b push the same system: it is built once")
	}
}

// Every problem of a broken inventory is reported at once, each at the
// line it is about, before anything starts.
func TestABrokenInventoryNamesEveryProblemAtItsLine(t *testing.T) {
	t.Parallel()
	file := write(t, "fleet.yaml", `nodes:
  ctrl-1:
    host: 10.0.0.10
    role: server
    system: `+ctrlSystem+`
  dup-host: {host: 10.0.0.10, system: `+ctrlSystem+`}
  no-system: {host: 10.0.0.30}
  missing-closure: {host: 10.0.0.31, system: /nix/store/0000000000000000000000000000000a-gone}
  bad-fields:
    host: "-oProxyCommand=x"
    user: Root
    host_key: MD5:aa:bb
    profile: orin-nano-nope
    mode: reboot
    colour: blue
    port: 70000
    identity: ./no-such-key
    system: .#x
  early-agent: {host: 10.0.0.40, role: agent, system: .#a, k3s_token_file: /var/lib/rancher/k3s/agent/token}
  token-no-role: {host: 10.0.0.41, system: .#a, k3s_token_file: relative/token}
  bad/name: {host: 10.0.0.42, system: .#a}
  orphan: {host: 10.0.0.43, system: .#a}
phases:
  - [ctrl-1, early-agent]
  - [dup-host, no-system, missing-closure, bad-fields, token-no-role, ctrl-1, nobody]
`)
	_, err := load(t, file)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("not inventory errors: %v", err)
	}
	got := err.Error()
	for _, want := range []string{
		`fleet.yaml:6: nodes "ctrl-1" and "dup-host" have the same address 10.0.0.10:22`,
		`fleet.yaml:7: node "no-system" has no system`,
		`fleet.yaml:8: system /nix/store/0000000000000000000000000000000a-gone is not in this machine's Nix store`,
		`fleet.yaml:10: host "-oProxyCommand=x" is not a host name or an IP address`,
		`fleet.yaml:11: user "Root" is not a login name`,
		`fleet.yaml:12: host_key "MD5:aa:bb" is not a fingerprint`,
		`fleet.yaml:13: unknown profile "orin-nano-nope"`,
		`fleet.yaml:14: unknown mode "reboot"`,
		`fleet.yaml:15: unknown key "colour" in node "bad-fields"`,
		`fleet.yaml:16: port "70000" is not a TCP port`,
		`fleet.yaml:17: identity ` + filepath.Join(filepath.Dir(file), "no-such-key") + `: no such file or directory`,
		`fleet.yaml:19: node "early-agent" takes a k3s token (k3s_token_file), but no role: server node is in an earlier phase`,
		`fleet.yaml:20: k3s_token_file "relative/token" is not an absolute path`,
		`fleet.yaml:21: bad node name "bad/name"`,
		`fleet.yaml:21: node "bad/name" is in no phase`,
		`fleet.yaml:22: node "orphan" is in no phase`,
		`fleet.yaml:25: node "ctrl-1" is in phase 1 and phase 2`,
		`fleet.yaml:25: phase 2 names "nobody", which is not in nodes`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q", want)
		}
	}
	if t.Failed() {
		t.Logf("errors:\n%s", got)
	}
}

func TestTopLevelProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ text, want string }{
		{"", "empty inventory"},
		{"- a\n- b\n", "fleet.yaml:1: an inventory is a mapping"},
		{"nodes: {a: {host: h, system: " + ctrlSystem + "}}\n", "fleet.yaml:1: missing phases"},
		{"phases: [[a]]\n", "missing nodes"},
		{"nodes: {a: {host: h, system: " + ctrlSystem + "}}\nphases: [[a]]\ndeploymentOrder: [[a]]\n", "fleet.yaml:3: give the order once"},
		{"nodes: {a: {host: h, system: " + ctrlSystem + "}}\nphases: [[a]]\nupdate: x\n", `fleet.yaml:3: unknown key "update"`},
		{"nodes:\n  a: {host: h, system: " + ctrlSystem + "}\n  a: {host: i, system: " + ctrlSystem + "}\nphases: [[a]]\n", `fleet.yaml:3: node "a" is defined twice (also at line 2)`},
		{"nodes: {a: {host: h, system: " + ctrlSystem + "}}\nphases: [[a], []]\n", "fleet.yaml:2: phase 2 is empty"},
		{"nodes: {a: [1]}\nphases: [[a]]\n", `fleet.yaml:1: node "a" is a mapping`},
		{"nodes: {a: {host: h, system: " + ctrlSystem + "}\nphases: [[a]]\n", "fleet.yaml:1: did not find expected ',' or '}'"},
	} {
		_, err := load(t, write(t, "fleet.yaml", tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.text, err, tc.want)
		}
	}
}

// JSON is read by the same parser, with the same lines.
func TestAJSONInventoryHasLinesToo(t *testing.T) {
	t.Parallel()
	file := write(t, "fleet.json", `{
  "nodes": {
    "a": {"host": "10.0.0.1", "system": "`+ctrlSystem+`"},
    "b": {"host": "10.0.0.1", "system": "`+ctrlSystem+`"}
  },
  "phases": [["a", "b"]]
}`)
	_, err := load(t, file)
	if err == nil || !strings.Contains(err.Error(), `fleet.json:4: nodes "a" and "b" have the same address`) {
		t.Fatalf("got %v", err)
	}
	ok := write(t, "fleet.json", `{"nodes": {"a": {"host": "10.0.0.1", "system": "`+ctrlSystem+`"}}, "phases": [["a"]]}`)
	inv, err := load(t, ok)
	if err != nil || inv.Format != "json" || inv.Node("a").Closure != ctrlSystem {
		t.Fatalf("%v %+v", err, inv)
	}
}

func TestSelectNamesTheUnknownOnes(t *testing.T) {
	t.Parallel()
	inv, err := load(t, write(t, "fleet.yaml", issueInventory))
	if err != nil {
		t.Fatal(err)
	}
	if sel, err := inv.Select(nil); err != nil || len(sel) != 2 {
		t.Errorf("all: %v %v", sel, err)
	}
	if sel, err := inv.Select([]string{"jetson-1"}); err != nil || !sel["jetson-1"] || sel["ctrl-1"] {
		t.Errorf("one: %v %v", sel, err)
	}
	if _, err := inv.Select([]string{"jetson-1", "jetson-9"}); err == nil || !strings.Contains(err.Error(), `no node "jetson-9"`) {
		t.Errorf("unknown: %v", err)
	}
}

// A Nix inventory goes through the real `nix eval --json --file`, and its
// problems are at the Nix file's lines (unsafeGetAttrPos).
func TestANixInventoryIsEvaluatedAndItsProblemsHaveLines(t *testing.T) {
	t.Parallel()
	testkit.NeedCommands(t, "nix")
	file := write(t, "fleet.nix", fmt.Sprintf(`let
  system = %q;
  agent = name: { host = "10.0.1.${toString name}"; inherit system; role = "agent"; };
in {
  nodes = {
    ctrl-1 = {
      host = "10.0.0.10";
      inherit system;
      role = "server";
    };
    jetson-1 = agent 1;
    jetson-2 = agent 2 // { user = "Bad"; };
  };
  phases = [ [ "ctrl-1" ] [ "jetson-1" "jetson-2" ] ];
}
`, ctrlSystem))
	_, err := load(t, file)
	if err == nil || !strings.Contains(err.Error(), file+`:12: user "Bad" is not a login name`) {
		t.Fatalf("got %v", err)
	}
	fixed := strings.Replace(readFile(t, file), `// { user = "Bad"; }`, "", 1)
	if err := os.WriteFile(file, []byte(fixed), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := load(t, file)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Format != "nix" || strings.Join(inv.Names(), " ") != "ctrl-1 jetson-1 jetson-2" || inv.Node("jetson-2").Host != "10.0.1.2" ||
		inv.Node("jetson-1").Phase != 2 || inv.Node("ctrl-1").Line != 6 {
		t.Errorf("%+v %+v", inv, inv.Node("ctrl-1"))
	}
	if err := os.WriteFile(file, []byte("{ nodes = throw \"no nodes here\"; }"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := load(t, file); err == nil || !strings.Contains(err.Error(), "nix eval --json --file failed: no nodes here") {
		t.Errorf("a failed evaluation: %v", err)
	}
}

func readFile(t *testing.T, f string) string {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
