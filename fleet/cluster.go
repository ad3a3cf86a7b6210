package fleet

import (
	"fmt"
	"strings"
	"time"
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
