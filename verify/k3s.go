package verify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jetup/jetup/remote"
)

// k3sState is the board's "k3s" section: which service is active, and
// whether this machine can ask kubectl (a server's kubeconfig).
type k3sState struct {
	Server, Agent string // systemctl is-active: active, inactive, failed, activating
	Binary        bool
	Kubeconfig    bool
	Node          string
}

func (k k3sState) enabled() bool {
	return k.Server != "" && k.Server != "inactive" && k.Server != "unknown" ||
		k.Agent != "" && k.Agent != "inactive" && k.Agent != "unknown"
}

func parseK3s(body []byte) k3sState {
	var k k3sState
	for _, l := range strings.Split(string(body), "\n") {
		key, val, _ := strings.Cut(l, "=")
		val = strings.TrimSpace(val)
		switch key {
		case "k3s":
			k.Server = val
		case "k3s_agent":
			k.Agent = val
		case "k3s_bin":
			k.Binary = true
		case "kubeconfig":
			k.Kubeconfig = true
		case "node":
			k.Node = val
		}
	}
	return k
}

func (v *verifier) k3sInfo() k3sState {
	if f := v.board.last("k3s"); f != nil {
		return parseK3s(f.Body)
	}
	return k3sState{}
}

// nodeState reads the last node section of sh: the node, or why there is
// none yet (k3s still starting: "connection refused", "not found"), or a
// hard error (output that is not a node's JSON).
func nodeState(f *frame) (n *kubeNode, waitingFor string, bad error) {
	if f == nil {
		return nil, "no answer from k3s kubectl", nil
	}
	if f.RC != 0 {
		return nil, "k3s kubectl: " + strings.Join(lastLines(f.Body, 1), ""), nil
	}
	n, err := parseNode(f.Body)
	if err != nil {
		return nil, "", err
	}
	return n, "", nil
}

// k3sNode: when k3s or k3s-agent is active, this board's node is Ready,
// waiting up to --wait with the last condition shown while it waits.
func (v *verifier) k3sNode(ctx context.Context) Check {
	k := v.k3sInfo()
	v.nodeName = k.Node
	switch {
	case !k.enabled():
		return Check{Status: NotEnabled, Detail: "neither k3s nor k3s-agent is active on the board"}
	case k.Server == "failed" || k.Agent == "failed" && k.Server != "active":
		unit := "k3s"
		if k.Agent == "failed" {
			unit = "k3s-agent"
		}
		return Check{Status: Fail, Detail: unit + ".service failed", Next: "read `journalctl -b -u " + unit + "` on the board"}
	case !k.Kubeconfig && k.Agent != "" && k.Agent != "inactive" && v.o.K3sServer == "":
		return Check{Status: Warn, Detail: "k3s-agent is active, but an agent has no kubeconfig to ask about node " + clip(k.Node, 60),
			Next: "pass --k3s-server with the server's address to check the node through it"}
	case !k.Kubeconfig && v.o.K3sServer != "":
		if c := v.openServer(ctx, k.Node); c != nil {
			return *c
		}
	case !k.Binary || !k.Kubeconfig:
		return Check{Status: Fail, Detail: "k3s is active, but there is no k3s kubectl with /etc/rancher/k3s/k3s.yaml to ask",
			Next: "check the k3s service's configuration (services.k3s) on the board"}
	}
	start := time.Now()
	for {
		n, waiting, bad := nodeState(v.kube.last("node"))
		if bad != nil {
			return Check{Status: Fail, Cause: CauseBadOutput, Detail: "k3s kubectl get node printed what is not a node's JSON: " + clip(bad.Error(), 160),
				Next: "run `k3s kubectl get node " + k.Node + " -o json` on the board; verify.log has what it printed"}
		}
		if n != nil {
			v.node = n
			r := n.ready()
			if r.Status == "True" {
				d := fmt.Sprintf("node %s is Ready", n.Metadata.Name)
				if info := n.Status.NodeInfo; info.KubeletVersion != "" {
					d += fmt.Sprintf(" (%s, %s)", info.KubeletVersion, info.ContainerRuntimeVersion)
				}
				if el := time.Since(start); el > time.Second {
					d += fmt.Sprintf(" after %s", el.Round(time.Second))
				}
				return Check{Status: OK, Detail: d}
			}
			waiting = clip(r.text(), 200)
		}
		elapsed := time.Since(start)
		if elapsed >= v.o.Wait {
			return Check{Status: Fail, Detail: fmt.Sprintf("node %s not Ready within %s: %s", clip(k.Node, 60), v.o.Wait, waiting),
				Next: "read `journalctl -b -u k3s` on the board (a CNI that never starts, a full disk, a wrong server address), or give it longer with --wait"}
		}
		v.sink.Emit(Waiting{Event: "waiting", At: time.Now(), ID: K3sNode, What: waiting, Elapsed: elapsed.Seconds(), Limit: v.o.Wait.Seconds()})
		if wait(ctx, min(v.o.PollEvery, v.o.Wait-elapsed)) != nil {
			return Check{Status: Fail, Cause: CauseNotRun, Detail: "stopped while waiting for node " + k.Node + ": " + waiting}
		}
		if _, err := v.command(v.kube, "node", nil); err != nil {
			return Check{Status: Fail, Cause: CauseNotRun, Detail: "the board shell ended while waiting for node " + k.Node + ": " + waiting}
		}
	}
}

// openServer opens a k3s-only shell on --k3s-server to ask about this
// agent's node; a check is returned when that fails.
func (v *verifier) openServer(ctx context.Context, node string) *Check {
	host, port := v.o.K3sServer, v.o.Target.Port
	if h, p, ok := strings.Cut(host, ":"); ok && !strings.Contains(p, ":") {
		host = h
		port, _ = strconv.Atoi(p)
	}
	t := remote.Target{Host: host, Port: port, User: v.o.Target.User, Identity: v.o.Target.Identity}
	p := scriptParams{Token: v.token, Checks: []string{K3sNode}, Node: node, KubeOnly: true}
	// The server's key must be pinned already (or the person asked): the
	// fingerprints vouching for the board's key are not the server's.
	tr := remote.Trust{KnownHosts: v.o.Trust.KnownHosts, Prompt: v.o.Trust.Prompt}
	sh, _, err := v.open(ctx, t, tr, p)
	if err != nil {
		return &Check{Status: Fail, Detail: "cannot ask the k3s server " + t.String() + ": " + err.Error(), Next: nextOf(err)}
	}
	v.kube = sh
	if err := v.probe(ctx, sh); err != nil {
		return &Check{Status: Fail, Cause: CauseNotRun, Detail: "the k3s server's shell ended: " + err.Error()}
	}
	if f := sh.last("k3s"); f != nil && !parseK3s(f.Body).Kubeconfig {
		return &Check{Status: Fail, Detail: t.String() + " has no /etc/rancher/k3s/k3s.yaml: it is not the k3s server",
			Next: "pass the server's address with --k3s-server"}
	}
	return nil
}

// k3sGPU: the node offers nvidia.com/gpu (the device plugin runs); with
// --workload, a pod runs to Succeeded on it.
func (v *verifier) k3sGPU(ctx context.Context) Check {
	if v.workloadErr != nil {
		return Check{Status: Fail, Cause: CauseBadInput, Detail: fmt.Sprintf("--workload %s: %v", v.o.Workload, v.workloadErr),
			Next: "give a Pod manifest (apiVersion: v1, kind: Pod) whose container requests nvidia.com/gpu: 1"}
	}
	k := v.k3sInfo()
	if !k.enabled() {
		return Check{Status: NotEnabled, Detail: "neither k3s nor k3s-agent is active on the board"}
	}
	n := v.node
	if n == nil {
		got, _, bad := nodeState(v.kube.last("node"))
		if bad != nil || got == nil {
			return Check{Status: Fail, Detail: "no node to read nvidia.com/gpu from (see k3s-node)", Next: "make the k3s node check pass first"}
		}
		n = got
	}
	count, has := n.gpus()
	if (!has || count == 0) && n.ready().Status != "True" {
		return Check{Status: Fail, Detail: fmt.Sprintf("node %s is not Ready, and offers no nvidia.com/gpu (see k3s-node)", n.Metadata.Name),
			Next: "make the node Ready first; the NVIDIA device plugin's pod runs only on a Ready node"}
	}
	if !has || count == 0 {
		what := "no nvidia.com/gpu in the node's allocatable"
		if has {
			what = "nvidia.com/gpu is 0 in the node's allocatable"
		}
		return Check{Status: Fail, Detail: what + ": the NVIDIA device plugin is not running on this node",
			Next: "deploy the NVIDIA device plugin (k8s-device-plugin with the CDI or csv strategy on Jetson) and check `k3s kubectl -n kube-system get pods` for its pod"}
	}
	d := fmt.Sprintf("node %s offers nvidia.com/gpu: %d", n.Metadata.Name, count)
	if v.workload == nil {
		return Check{Status: OK, Detail: d}
	}
	return v.runWorkload(ctx, d, n.Metadata.Name)
}

// runWorkload creates the pod, waits for it to finish, shows its log's
// tail and deletes it.
func (v *verifier) runWorkload(ctx context.Context, prefix, node string) Check {
	w := v.workload
	ns, name := w.Namespace, w.Name
	body, pinned := w.manifest(node)
	// A pod left by an earlier run would make create fail.
	if _, err := v.command(v.kube, "delete "+ns+" "+name, nil); err != nil {
		return Check{Status: Fail, Cause: CauseNotRun, Detail: prefix + "; the board shell ended before the workload ran"}
	}
	out, err := v.command(v.kube, "create "+strconv.Itoa(len(body)), body)
	if err != nil {
		return Check{Status: Fail, Cause: CauseNotRun, Detail: prefix + "; the board shell ended while creating the workload pod"}
	}
	if f := out["create"]; f == nil || f.RC != 0 {
		why := "no answer"
		if f != nil {
			why = strings.Join(lastLines(f.Body, 2), "; ")
		}
		return Check{Status: Fail, Detail: fmt.Sprintf("%s; k3s kubectl create -f %s failed: %s", prefix, w.File, why),
			Next: "fix the manifest (kubectl create --dry-run=server -f FILE on the board says what is wrong)"}
	}
	defer v.command(v.kube, "delete "+ns+" "+name, nil) //nolint:errcheck // best effort: the pod is ours
	where := ""
	if pinned {
		where = " (pinned to node " + node + ")"
	}
	start := time.Now()
	state := "created"
	for {
		out, err := v.command(v.kube, "pod "+ns+" "+name, nil)
		if err != nil {
			return Check{Status: Fail, Cause: CauseNotRun, Detail: prefix + "; the board shell ended while the workload ran: " + state}
		}
		if f := out["pod"]; f != nil && f.RC == 0 {
			p, perr := parsePod(f.Body)
			if perr != nil {
				return Check{Status: Fail, Cause: CauseBadOutput, Detail: prefix + "; k3s kubectl get pod printed what is not a pod's JSON: " + clip(perr.Error(), 160)}
			}
			state = clip(p.state(), 200)
			switch p.Status.Phase {
			case "Succeeded":
				return Check{Status: OK, Detail: fmt.Sprintf("%s; workload pod %s%s Succeeded in %s%s", prefix, name, where,
					time.Since(start).Round(time.Second), v.logTail(ns, name))}
			case "Failed":
				return Check{Status: Fail, Detail: fmt.Sprintf("%s; workload pod %s%s failed: %s%s", prefix, name, where, state, v.logTail(ns, name)),
					Next: "`k3s kubectl describe pod " + name + "` shows the events; an UnexpectedAdmissionError means the device plugin cannot give the GPU"}
			}
		} else if f != nil {
			state = strings.Join(lastLines(f.Body, 1), "")
		}
		elapsed := time.Since(start)
		if elapsed >= v.o.Wait {
			return Check{Status: Fail, Detail: fmt.Sprintf("%s; workload pod %s%s did not finish within %s: %s%s", prefix, name, where, v.o.Wait, state, v.logTail(ns, name)),
				Next: "an Unschedulable pod asks for more than the node offers; a pulling one needs the network or a preloaded image (services.k3s.images)"}
		}
		v.sink.Emit(Waiting{Event: "waiting", At: time.Now(), ID: K3sGPU, What: "pod " + name + " " + state, Elapsed: elapsed.Seconds(), Limit: v.o.Wait.Seconds()})
		if wait(ctx, min(v.o.PollEvery, v.o.Wait-elapsed)) != nil {
			return Check{Status: Fail, Cause: CauseNotRun, Detail: prefix + "; stopped while the workload ran: " + state}
		}
	}
}

// logTail is "; log: last lines" of the pod's log.
func (v *verifier) logTail(ns, name string) string {
	out, err := v.command(v.kube, "logs "+ns+" "+name, nil)
	if err != nil || out["logs"] == nil {
		return ""
	}
	l := lastLines(out["logs"].Body, 3)
	if len(l) == 0 {
		return ""
	}
	return "; log: " + strings.Join(l, " | ")
}
