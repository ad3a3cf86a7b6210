package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/deploy"
	"github.com/jetup/jetup/fleet"
	"github.com/jetup/jetup/remote"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

func (a *app) fleetCommand() *cobra.Command {
	var screen fleetFlags
	var start bool
	cmd := &cobra.Command{
		Use:   "fleet FILE [--parallel N] [--keep-going] [--only NAME,...] [--no-verify] [--start]",
		Short: "Bring up a fleet in phases from an inventory; hand it on to colmena or deploy-rs",
		Long: `A fleet is an inventory of machines (fleet.yaml, JSON, or a Nix file evaluated
with nix eval --json --file) and the phases they are pushed in:

  nodes:
    ctrl-1:   {host: 10.0.0.10, role: server, system: /nix/store/...-nixos-system-ctrl-1}
    jetson-1: {host: 10.0.0.20, profile: orin-nano-devkit, role: agent, system: .#jetson-1,
               identity: ~/.ssh/bench, host_key: "SHA256:...", labels: {rack: a},
               k3s_token_file: /var/lib/rancher/k3s/agent/token}
  phases:
    - [ctrl-1]
    - [jetson-1]

Node fields: host (or targetHost), port, user (default root), identity,
host_key (a fingerprint that vouches for the node's key on first contact),
profile (none for a plain host), system (a built closure or FLAKE#NAME, a
relative flake or path being relative to the inventory), mode (switch, boot
or installer; default switch), role (server, agent or free text), labels,
k3s_token_file; or, instead of system, update (a sysupdate directory or a .swu,
checked here; fleet push does not apply it yet: jetup update does).
deploymentOrder is accepted for phases. Every problem is
reported at its file:line before anything starts.

jetup fleet FILE opens the fleet screen (a row per node: phase, step, bytes,
verdict; enter opens a node's run; p pushes with the flags of fleet push);
jetup fleet push FILE pushes headless;
jetup fleet check FILE only validates; jetup fleet export hands the inventory on.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.fleetScreen(cmd, args[0], screen, start) },
	}
	screen.add(cmd)
	cmd.Flags().BoolVar(&start, "start", false, "push at once instead of waiting for p")
	cmd.AddCommand(a.fleetPushCommand(), a.fleetCheckCommand(), a.fleetExportCommand())
	return cmd
}

type fleetFlags struct {
	parallel  int
	keepGoing bool
	only      string
	noVerify  bool
	wait      time.Duration
	retries   int
	cache     string
	cacheTo   string
	cacheKeys []string
}

func (f *fleetFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.parallel, "parallel", fleet.DefaultParallel, "push at most N nodes of a phase at once")
	fl.BoolVar(&f.keepGoing, "keep-going", false, "push the later phases even when a node failed")
	fl.StringVar(&f.only, "only", "", "push only these nodes (comma-separated names)")
	fl.BoolVar(&f.noVerify, "no-verify", false, "do not verify the nodes after their push")
	fl.DurationVar(&f.wait, "wait", 3*time.Minute, "how long a k3s server may take to answer, and the nodes to become Ready")
	fl.IntVar(&f.retries, "retries", 2, "times a node's copy cut off by a dropped link is resumed")
	fl.StringVar(&f.cache, "cache", "", "binary cache the nodes fetch from (nix copy --from URL on each node), after this machine copied each path there once")
	fl.StringVar(&f.cacheTo, "cache-to", "", "where this machine copies the systems when it is not --cache (file:///srv/cache?secret-key=FILE behind a web server)")
	fl.StringArrayVar(&f.cacheKeys, "cache-key", nil, "the cache's public key (NAME:BASE64) the nodes trust; the public half of --cache-to's secret-key is added")
}

// options are the fleet run's options for inv.
func (a *app) fleetOptions(inv *fleet.Inventory, f fleetFlags) (fleet.Options, error) {
	if f.parallel < 1 {
		return fleet.Options{}, step.Refuse("usage", "pass --parallel with a positive number", "--parallel %d", f.parallel)
	}
	if f.wait <= 0 {
		return fleet.Options{}, step.Refuse("usage", "give a positive duration, like --wait 3m", "--wait %s", f.wait)
	}
	state, err := a.state()
	if err != nil {
		return fleet.Options{}, err
	}
	set, _ := a.loadProfiles()
	var only []string
	for _, n := range strings.Split(f.only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			only = append(only, n)
		}
	}
	if err := inv.Pushable(only); err != nil {
		return fleet.Options{}, err
	}
	return fleet.Options{Inventory: inv, Parallel: f.parallel, KeepGoing: f.keepGoing, Only: only, NoVerify: f.noVerify, Wait: f.wait,
		Retries: f.retries, Cache: f.cache, CacheTo: f.cacheTo, CacheKeys: f.cacheKeys, StateDir: state, KnownHosts: a.knownHostsFile(), Profiles: set, Version: jetupVersion(),
		Command: os.Args, Host: hostInfo(), Sim: a.sim}, nil
}

func (a *app) fleetEdge() fleet.Edge {
	hw := a.hardware()
	return fleet.Edge{Push: hw.Push, Verify: hw.Verify}
}

func (a *app) fleetPushCommand() *cobra.Command {
	var f fleetFlags
	cmd := &cobra.Command{
		Use:   "push FILE [--parallel N] [--keep-going] [--only NAME,...] [--cache URL [--cache-to URL] [--cache-key KEY]] [--no-verify] [--json]",
		Short: "Push a fleet phase by phase: build each system once, push, activate, verify",
		Long: `Bring the inventory's nodes up in its phases. Each distinct system is built once
(nix build, progress shown); then phase by phase, at most --parallel nodes at a
time, each node gets jetup's push (its host key pinned, or vouched for by its
host_key on first contact; preflight; only the paths it lacks; activation
under systemd-run) and is verified (its profile's Verify checks, else the
booted system and failed units). A failed node stops the later phases unless
--keep-going. Each node has its own run record; the fleet run's record holds
fleet.json naming them. A re-run skips the nodes already on their system (it
says so) and continues where the last run stopped.

Exit status: 0 every node done (or already on its system), 1 a node failed,
was not run or an activation failed in any way, 2 refused before anything was
sent (a bad inventory, every failure a refusal such as preflight or a host key).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.fleetPush(cmd, args[0], f) },
	}
	f.add(cmd)
	return cmd
}

func (a *app) fleetPush(cmd *cobra.Command, file string, f fleetFlags) error {
	inv, err := a.loadInventory(cmd, file)
	if err != nil {
		return err
	}
	o, err := a.fleetOptions(inv, f)
	if err != nil {
		return err
	}
	res, err := fleet.Push(cmd.Context(), a.fleetEdge(), o, a.fleetSink())
	if err != nil {
		return err
	}
	if res.ExitCode != 0 {
		return silent(res.ExitCode)
	}
	return nil
}

// fleetSink prints the fleet's events: all of them as JSON lines with
// --json; otherwise its own events (a node's row only when its state or
// step changes, or every five seconds while it copies) and, of the
// nodes' own, what a person must see: host keys, checks that did not
// pass, warnings, what an activation printed.
func (a *app) fleetSink() step.Sink {
	if a.json {
		return step.NewPrinter(a.stdout, true)
	}
	out := step.NewPrinter(a.stdout, false)
	var mu sync.Mutex
	last := map[string]time.Time{}
	step0 := map[string]string{}
	return step.SinkFunc(func(e step.Event) {
		switch e := e.(type) {
		case fleet.NodeStatus:
			if e.State == fleet.Pending {
				return // waiting for its phase: the phase line says when it starts
			}
			mu.Lock()
			key := string(e.State) + e.Step
			skip := step0[e.Node] == key && time.Since(last[e.Node]) < 5*time.Second
			if !skip {
				step0[e.Node], last[e.Node] = key, time.Now()
			}
			mu.Unlock()
			if skip {
				return
			}
		case fleet.SystemBuild:
			mu.Lock()
			skip := time.Since(last[" build"]) < 2*time.Second
			if !skip {
				last[" build"] = time.Now()
			}
			mu.Unlock()
			if skip {
				return
			}
		case fleet.CacheProgress:
			mu.Lock()
			skip := time.Since(last[" cache"]) < 2*time.Second && e.Progress.PathsDone < e.Progress.PathsTotal
			if !skip {
				last[" cache"] = time.Now()
			}
			mu.Unlock()
			if skip {
				return
			}
		case fleet.NodeLine:
			if !worthPrinting(e.Event) {
				return
			}
		}
		out.Emit(e)
	})
}

// worthPrinting picks the nodes' own events a person reads on the
// terminal (every one is in the node's log and the fleet's).
func worthPrinting(e step.Event) bool {
	switch e := e.(type) {
	case remote.HostKey, step.Warning, deploy.RemoteLine:
		return true
	case deploy.Check:
		return e.Status != deploy.CheckOK
	case verify.Check:
		return e.Status == verify.Fail || e.Status == verify.Warn
	}
	return false
}

// loadInventory reads and validates an inventory; every problem is a
// refusal (exit 2) listing each at its file:line.
func (a *app) loadInventory(cmd *cobra.Command, file string) (*fleet.Inventory, error) {
	set, _ := a.loadProfiles()
	hw := a.hardware()
	inv, err := fleet.Load(cmd.Context(), file, fleet.LoadOptions{Nix: hw.Nix, Profiles: set, Resolve: hw.Push.Nix.Resolve})
	if err != nil {
		if errs, ok := err.(fleet.Errors); ok {
			return nil, step.Refuse("bad-inventory", "fix each problem at the line it names, then run again",
				"%s is not a valid inventory (%d problem%s):\n%s", file, len(errs), plural(len(errs)), errs.Error())
		}
		return nil, step.Refuse("bad-inventory", "check the inventory's path", "%v", err)
	}
	return inv, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (a *app) fleetCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE",
		Short: "Validate an inventory and show its phases",
		Long: `Read and validate an inventory as jetup fleet push would, without reaching any
node: every problem at its file:line (exit 2), else the phases with their
nodes (exit 0). --json prints the inventory as jetup reads it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			inv, err := a.loadInventory(cmd, args[0])
			if err != nil {
				return err
			}
			if a.json {
				return writeJSON(a.stdout, inv)
			}
			printPlan(a, inv)
			return nil
		},
	}
}

// printPlan prints the phases, a node a line.
func printPlan(a *app, inv *fleet.Inventory) {
	systems := map[string]bool{}
	for _, n := range inv.Nodes {
		systems[n.SystemKey()] = true
	}
	fmt.Fprintf(a.stdout, "%s: %d nodes in %d phases, %d distinct systems\n", inv.File, len(inv.Nodes), len(inv.Phases), len(systems))
	for i, ph := range inv.Phases {
		fmt.Fprintf(a.stdout, "phase %d:\n", i+1)
		for _, name := range ph {
			n := inv.Node(name)
			what := n.Closure
			if n.Flake != "" {
				what = n.Flake
			}
			if n.Update != "" {
				what = "update (" + n.UpdateKind + ") " + n.Update
			}
			extra := ""
			if n.Role != "" {
				extra += " role " + n.Role
			}
			if n.Profile != "" {
				extra += " profile " + n.Profile
			}
			fmt.Fprintf(a.stdout, "  %-16s %-24s %s%s\n", n.Name, n.Target().String(), what, extra)
		}
	}
}

type exportFlags struct {
	format     string
	out        string
	knownHosts string
}

func (a *app) fleetExportCommand() *cobra.Command {
	var f exportFlags
	cmd := &cobra.Command{
		Use:   "export --format colmena|deploy-rs FILE [-o OUT] [--known-hosts FILE]",
		Short: "Hand the fleet on: a colmena hive or deploy-rs nodes, with jetup's pinned host keys",
		Long: `Write the inventory as a colmena hive (deployment.targetHost, targetPort,
targetUser, tags from labels and role) or as deploy-rs nodes (hostname,
sshUser, sshOpts, profiles.system), to OUT or stdout, so day-2 updates go on
in the tool you already use.

The host keys jetup pinned for the nodes are written to a known_hosts file
(--known-hosts; default OUT's name with .known_hosts, or beside the inventory
when printing to stdout), and the output points ssh at it with
StrictHostKeyChecking=yes: deploy-rs through each node's sshOpts, colmena
through an ssh config beside it (SSH_CONFIG_FILE=... colmena apply). A node
jetup has not pinned yet is named on stderr.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return a.fleetExport(cmd, args[0], f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "", "colmena or deploy-rs")
	fl.StringVarP(&f.out, "output", "o", "", "write the hive or nodes here (default: stdout)")
	fl.StringVar(&f.knownHosts, "known-hosts", "", "where to write the nodes' pinned host keys")
	_ = cmd.RegisterFlagCompletionFunc("format", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return fleet.Formats, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

func (a *app) fleetExport(cmd *cobra.Command, file string, f exportFlags) error {
	switch f.format {
	case fleet.FormatColmena, fleet.FormatDeployRS:
	case "":
		return step.Refuse("usage", "pass --format colmena or --format deploy-rs", "no export format given")
	default:
		return step.Refuse("usage", "pass --format colmena or --format deploy-rs", "unknown format %q", f.format)
	}
	inv, err := a.loadInventory(cmd, file)
	if err != nil {
		return err
	}
	if _, err := a.state(); err != nil {
		return err
	}
	base := f.out
	if base == "" {
		base = filepath.Join(filepath.Dir(inv.File), strings.TrimSuffix(filepath.Base(inv.File), filepath.Ext(inv.File))+"."+f.format)
	}
	base = strings.TrimSuffix(base, ".nix")
	kh := f.knownHosts
	if kh == "" {
		kh = base + ".known_hosts"
	}
	kh, _ = filepath.Abs(kh)
	sshConfig, _ := filepath.Abs(base + ".ssh_config")
	nix := a.hardware().Push.Nix
	name := "deploy.nix"
	if f.out != "" {
		name = filepath.Base(f.out)
	}
	e, err := fleet.Export(inv, fleet.ExportOptions{Format: f.format, Pins: a.knownHostsFile(), KnownHosts: kh, SSHConfig: sshConfig, Name: name,
		SystemOf: func(closure string) string {
			b, err := nix.ReadFile(closure + "/system")
			if err != nil {
				return ""
			}
			return strings.TrimSpace(string(b))
		}})
	if err != nil {
		return step.Refuse("known-hosts", "fix or remove "+a.knownHostsFile(), "%v", err)
	}
	written := []string{kh}
	if err := writeFileAtomic(kh, []byte(e.KnownHosts)); err != nil {
		return step.Errorf("export", "pass --known-hosts with a writable path", "cannot write %s: %v", kh, err)
	}
	if e.SSHConfig != "" {
		if err := writeFileAtomic(sshConfig, []byte(e.SSHConfig)); err != nil {
			return step.Errorf("export", "pass -o with a writable path", "cannot write %s: %v", sshConfig, err)
		}
		written = append(written, sshConfig)
	}
	if f.out == "" {
		fmt.Fprint(a.stdout, e.Nix)
	} else {
		if err := writeFileAtomic(f.out, []byte(e.Nix)); err != nil {
			return step.Errorf("export", "pass -o with a writable path", "cannot write %s: %v", f.out, err)
		}
		written = append([]string{f.out}, written...)
	}
	for _, name := range e.Updates {
		fmt.Fprintf(a.stderr, "jetup: %s takes an update (update:), which %s cannot apply: left out; jetup update applies it\n", name, f.format)
	}
	for _, name := range e.Unpinned {
		n := inv.Node(name)
		fmt.Fprintf(a.stderr, "jetup: no host key pinned for %s (%s): push it with jetup first, or its first contact is refused (StrictHostKeyChecking yes)\n",
			name, n.Target().Addr())
	}
	fmt.Fprintf(a.stderr, "jetup: wrote %s\n", strings.Join(written, ", "))
	return nil
}

// writeFileAtomic writes data to a temp file beside path and renames it
// over path (0644: these files hold public keys and addresses).
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if werr != nil || cerr != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("%v %v", werr, cerr)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
