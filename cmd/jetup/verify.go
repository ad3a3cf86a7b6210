package main

import (
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

type verifyFlags struct {
	boardFlags
	closure    string
	only       string
	wait       time.Duration
	workload   string
	cudaSample string
	image      string
	k3sServer  string
}

func (a *app) verifyCommand() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify --host H [--closure P] [--only ID,...] [--wait D] [--workload FILE] [--cuda-sample PATH] [--container-image IMG] [--k3s-server H]",
		Short: "Prove the board works: booted system, units, GPU, CUDA, container GPU, k3s",
		Long: `Check a booted board over SSH, its host key pinned as push pins it:

  booted-system  /run/current-system is the pushed toplevel (--closure, or the
                 last push to this board in jetup's run records); only the
                 boot entry having it means a reboot is pending
  failed-units   systemctl --failed is empty (each failed unit with the last
                 lines of its journal); a system still starting is a warning
  jetson-gpu     the SoC's GPU device nodes (from the profile), and
                 nvidia-smi's GPU and driver, or one tegrastats sample
  cuda           --cuda-sample (or the profile's) runs and exits 0
  container-gpu  a CDI spec under /etc/cdi or /var/run/cdi defines
                 nvidia.com/gpu=all; with --container-image, podman (or
                 docker) runs nvidia-smi in a container given that device
  k3s-node       when k3s or k3s-agent is active: the node is Ready, waiting
                 up to --wait; an agent is asked about through --k3s-server
  k3s-gpu        the node offers nvidia.com/gpu; --workload runs a Pod to
                 Succeeded, shows its log and deletes it
  k3s-storage    k3s's data not on an SD card or eMMC; swap on small boards

Each check says ok, warn, fail or not-enabled (it does not apply to this
board), with what to do next. Everything runs in one ssh session; the
board's own output goes to verify.log in the run record.

Exit status: 0 nothing failed (warnings and not-enabled checks pass),
1 a check failed or the board could not be reached, 2 refused (host key,
bad input such as a --workload that is not a Pod).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.verify(cmd, f) },
	}
	fl := cmd.Flags()
	f.register(cmd, "the board's address (the console step prints it)", "login user (with sudo when not root)")
	fl.StringVar(&f.closure, "closure", "", "the system toplevel the board should run (default: the last push to it)")
	fl.StringVar(&f.only, "only", "", "run only these checks (comma-separated ids)")
	fl.DurationVar(&f.wait, "wait", 3*time.Minute, "how long the k3s node may take to become Ready (and the workload pod to finish)")
	fl.StringVar(&f.workload, "workload", "", "a Pod manifest to run on the node (one that requests nvidia.com/gpu: 1)")
	fl.StringVar(&f.cudaSample, "cuda-sample", "", "a command or store path on the board to run (a deviceQuery build)")
	fl.StringVar(&f.image, "container-image", "", "run nvidia-smi in this image with --device nvidia.com/gpu=all")
	fl.StringVar(&f.k3sServer, "k3s-server", "", "the k3s server to ask about an agent's node (host or host:port)")
	_ = cmd.RegisterFlagCompletionFunc("only", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return verify.IDs, cobra.ShellCompDirectiveNoFileComp
	})
	return cmd
}

// verifyOptions fills what the profile knows: whether the board is a
// Jetson, its GPU's device nodes, its CUDA sample. With no profile, every
// known SoC's nodes are offered and the board's device tree picks.
func verifyProfile(o *verify.Options, p *profiles.Profile, set *profiles.Set) {
	if p != nil {
		jetson := p.Family == profiles.Jetson
		o.Jetson = &jetson
		if vf := p.Verify; vf != nil {
			o.GPU = []verify.GPUSet{gpuSet(vf)}
			o.ProfileCUDASample = vf.CUDASample
		}
		return
	}
	if set == nil {
		return
	}
	seen := map[string]bool{}
	for _, q := range set.All() {
		if vf := q.Verify; vf != nil && !seen[vf.SoC] {
			seen[vf.SoC] = true
			o.GPU = append(o.GPU, gpuSet(vf))
		}
	}
}

func gpuSet(vf *profiles.Verify) verify.GPUSet {
	return verify.GPUSet{SoC: vf.SoC, Family: vf.GPU, Driver: vf.GPUDriver, Devices: vf.GPUDevices}
}

func (a *app) verify(cmd *cobra.Command, f verifyFlags) error {
	only, err := verify.ParseOnly(f.only)
	if err != nil {
		return step.Refuse("usage", "checks: "+joinIDs(), "--only: %v", err)
	}
	if f.target.Host == "" {
		return step.Refuse("usage", "pass --host with the board's address (the console step prints it)", "no board given")
	}
	if f.wait <= 0 {
		return step.Refuse("usage", "give a positive duration, like --wait 3m", "--wait %s", f.wait)
	}
	p, err := a.profile(false)
	if err != nil {
		return err
	}
	set, _ := a.loadProfiles()
	b := a.hardware()
	closure := f.closure
	if a.sim && closure != "" {
		// The simulated store holds the simulated system (./result).
		if c, err := b.Push.Nix.Resolve(closure); err == nil {
			closure = c
		}
	}
	return a.recordStep(step.Verify, a.profileName, func(rs *runrec.Step) (runrec.Outcome, string, error) {
		log, err := rs.OpenLog("log")
		if err != nil {
			return "", "", err
		}
		defer log.Close()
		o := verify.Options{Target: f.target, Closure: closure, StateDir: a.stateDir, Only: only, Wait: f.wait,
			Workload: f.workload, CUDASample: f.cudaSample, ContainerImage: f.image, K3sServer: f.k3sServer,
			Trust: a.trust(f.boardFlags),
			Log:   log}
		verifyProfile(&o, p, set)
		res, err := verify.Run(cmd.Context(), b.Verify, o, a.verifySink(log))
		if res != nil {
			_ = rs.SetDetails(res)
			if res.Hostname != "" {
				_ = rs.Run().SetFact(step.FactHostname, res.Hostname)
			}
			if err == nil || a.json {
				// A refused or unreachable board's checks all say "not
				// checked": scripts reading --json still get a verdict per check.
				a.printResult(res)
			}
		}
		if err != nil {
			return "", "", err
		}
		_ = rs.Run().SetFact(step.FactIP, f.target.Host)
		_ = rs.Run().SetFact(step.FactHostKey, res.Fingerprint)
		switch code := res.ExitCode(); code {
		case 0:
			return runrec.Success, res.Text(), nil
		case 2:
			return runrec.Refused, res.Text(), silent(code)
		default:
			return runrec.Failed, res.Text(), silent(code)
		}
	})
}

func joinIDs() string {
	s := ""
	for i, id := range verify.IDs {
		if i > 0 {
			s += ", "
		}
		s += id
	}
	return s
}

// verifySink prints verify's events: all as JSON lines with --json;
// otherwise text, with a waiting line at most every five seconds. The log
// gets them all as text.
func (a *app) verifySink(log *runrec.Log) step.Sink {
	logSink := log.Printer()
	if a.json {
		return step.Tee(step.NewPrinter(a.stdout, true), logSink)
	}
	out := step.NewPrinter(a.stdout, false)
	var mu sync.Mutex
	last := map[string]time.Time{}
	return step.Tee(logSink, step.SinkFunc(func(e step.Event) {
		if w, ok := e.(verify.Waiting); ok {
			mu.Lock()
			skip := time.Since(last[w.ID]) < 5*time.Second
			if !skip {
				last[w.ID] = time.Now()
			}
			mu.Unlock()
			if skip {
				return
			}
		}
		out.Emit(e)
	}))
}
