package fleet

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/jetup/jetup/profiles"
	"github.com/jetup/jetup/step"
	"github.com/jetup/jetup/verify"
)

// Cluster is the check of a k3s cluster after the last phase, from a
// server: every k3s node of the inventory listed and Ready, the Jetson
// ones offering nvidia.com/gpu.
type Cluster struct {
	Event  string        `json:"event,omitempty"` // "cluster"
	At     time.Time     `json:"at"`
	Server string        `json:"server"` // the node asked
	Nodes  []ClusterNode `json:"nodes"`
	// Error is set when the cluster could not be asked at all.
	Error   string  `json:"error,omitempty"`
	Cause   string  `json:"cause,omitempty"`
	Next    string  `json:"next,omitempty"`
	Seconds float64 `json:"seconds"`
}

// ClusterNode is one k3s node of the inventory as the cluster sees it.
type ClusterNode struct {
	Name string `json:"name"` // the inventory's
	// Kube is its Kubernetes node name (its hostname).
	Kube   string `json:"kube_name"`
	Listed bool   `json:"listed"`
	Ready  bool   `json:"ready"`
	// Condition is its Ready condition (the last one seen).
	Condition string `json:"condition,omitempty"`
	// Jetson nodes must offer nvidia.com/gpu.
	Jetson bool `json:"jetson,omitempty"`
	GPUs   int  `json:"gpus,omitempty"`
}

// Problem is what is wrong with the node, "" when nothing is.
func (n ClusterNode) Problem() string {
	switch {
	case !n.Listed:
		return fmt.Sprintf("%s: not listed by the cluster (no node %s)", n.Name, n.Kube)
	case !n.Ready:
		return fmt.Sprintf("%s: not Ready: %s", n.Name, n.Condition)
	case n.Jetson && n.GPUs == 0:
		return fmt.Sprintf("%s: offers no nvidia.com/gpu (the NVIDIA device plugin does not run on it)", n.Name)
	}
	return ""
}

// OK reports whether every node is listed, Ready and, when a Jetson,
// offers its GPU.
func (c *Cluster) OK() bool {
	if c.Error != "" {
		return false
	}
	for _, n := range c.Nodes {
		if n.Problem() != "" {
			return false
		}
	}
	return true
}

// Text renders "cluster (from ctrl-1): 3 nodes Ready, 2 with nvidia.com/gpu"
// or names the ones that are not.
func (c Cluster) Text() string {
	if c.Error != "" {
		return fmt.Sprintf("cluster (from %s): not checked: %s", c.Server, c.Error)
	}
	var bad []string
	gpus := 0
	for _, n := range c.Nodes {
		if p := n.Problem(); p != "" {
			bad = append(bad, p)
		}
		if n.GPUs > 0 {
			gpus++
		}
	}
	if len(bad) > 0 {
		return fmt.Sprintf("cluster (from %s): %d of %d nodes not right: %s", c.Server, len(bad), len(c.Nodes), strings.Join(bad, "; "))
	}
	return fmt.Sprintf("cluster (from %s): %d nodes Ready, %d with nvidia.com/gpu", c.Server, len(c.Nodes), gpus)
}

// checkCluster asks the k3s server, after the last phase, for its nodes
// (`k3s kubectl get nodes -o json`) until every k3s node of the inventory
// that ended well is listed and Ready and the Jetson ones offer
// nvidia.com/gpu, or Wait has passed; the ones that are not are named
// with their last condition. Nothing is checked when no node of the run
// is a k3s node, or the server runs no k3s.
func (r *fleetRun) checkCluster(ctx context.Context) {
	var want []*nodeRun
	for _, n := range r.inv.Nodes {
		nr := r.nodes[n.Name]
		if st := nr.state(); n.K3s() && (st == Done || st == Skipped) {
			want = append(want, nr)
		}
	}
	srv := r.tokenServer()
	if len(want) == 0 || srv == nil || ctx.Err() != nil {
		return
	}
	if st := r.nodes[srv.Name].state(); st == Failed || st == NotRun {
		return // its failure says it all
	}
	start := time.Now()
	c := &Cluster{Event: "cluster", Server: srv.Name}
	absent := false // no k3s on the server: not a cluster (the gate said so)
	defer func() {
		if absent {
			return
		}
		c.At, c.Seconds = time.Now(), time.Since(start).Seconds()
		r.mu.Lock()
		r.rec.Cluster = c
		r.saveLocked()
		r.mu.Unlock()
		r.sink.Emit(*c)
	}()
	sh, err := r.openShell(ctx, srv, clusterScript)
	if err != nil {
		c.Error, c.Cause, c.Next = errText(err), "cluster-unreachable", step.NextOf(err)
		return
	}
	defer sh.close()
	first := true
	_, err = r.poll(ctx, srv.Name, "cluster", func() (bool, string, error) {
		if !first && sh.conn.Send("again\n") != nil {
			return false, "", fmt.Errorf("the shell on %s ended", srv.Name)
		}
		first = false
		rc, body := "", []byte(nil)
		for rc == "" || body == nil {
			key, val, ok := sh.next()
			if !ok {
				return false, "", fmt.Errorf("the shell on %s ended", srv.Name)
			}
			switch key {
			case "k3s":
				absent = true
				return true, "", nil
			case "rc":
				rc = val
			case "nodes":
				body, _ = base64.StdEncoding.DecodeString(val)
				if body == nil {
					body = []byte{}
				}
			}
		}
		if rc != "0" {
			return false, "k3s kubectl get nodes: " + clip(lastLine(string(body)), 200), nil
		}
		list, err := verify.ParseNodeList(body)
		if err != nil {
			return false, "", fmt.Errorf("k3s kubectl get nodes -o json printed what is not a node list: %v", err)
		}
		c.Nodes = r.clusterNodes(want, list)
		if c.OK() {
			return true, "", nil
		}
		var bad []string
		for _, n := range c.Nodes {
			if p := n.Problem(); p != "" {
				bad = append(bad, p)
			}
		}
		return false, strings.Join(bad, "; "), nil
	})
	switch {
	case absent:
	case err == errTimeout:
		c.Cause = "cluster-not-ready"
		c.Next = "read `journalctl -b -u k3s-agent` on the nodes named (a wrong server address or token, a CNI that never starts); " +
			"for nvidia.com/gpu, check the NVIDIA device plugin's pod (k3s kubectl -n kube-system get pods); or give it longer with --wait"
	case err != nil:
		c.Error, c.Cause, c.Next = err.Error(), "cluster-unreachable", "run `k3s kubectl get nodes` on "+srv.Name+" by hand"
	}
}

// clusterNodes matches the inventory's k3s nodes with the cluster's: by
// address (its InternalIP is the node's host), else by its hostname,
// else by its inventory name.
func (r *fleetRun) clusterNodes(want []*nodeRun, list []verify.KubeNode) []ClusterNode {
	var out []ClusterNode
	for _, nr := range want {
		n := nr.n
		r.mu.Lock()
		hostname := nr.res.Hostname
		r.mu.Unlock()
		cn := ClusterNode{Name: n.Name, Kube: n.Name, Jetson: r.jetson(n)}
		if hostname != "" {
			cn.Kube = hostname
		}
		var found *verify.KubeNode
		for i := range list {
			for _, a := range list[i].Addresses {
				if a == n.Host {
					found = &list[i]
				}
			}
		}
		for i := range list {
			if found == nil && (list[i].Name == hostname && hostname != "" || list[i].Name == n.Name) {
				found = &list[i]
			}
		}
		if found != nil {
			cn.Kube, cn.Listed, cn.Ready, cn.Condition, cn.GPUs = found.Name, true, found.Ready, found.Condition, found.GPUs
		}
		out = append(out, cn)
	}
	return out
}

// jetson reports whether the node's profile is a Jetson's.
func (r *fleetRun) jetson(n *Node) bool {
	if r.o.Profiles == nil || n.Profile == "" {
		return false
	}
	p, ok := r.o.Profiles.Get(n.Profile)
	return ok && p.Family == profiles.Jetson
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
