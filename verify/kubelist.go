package verify

import (
	"encoding/json"
	"fmt"
)

// KubeNode is one node of `kubectl get nodes -o json` as a fleet's
// cluster check reads it, through the same minimal types as verify's own
// checks (see kube.go for why not k8s.io/api).
type KubeNode struct {
	Name string
	// Addresses are its status.addresses (InternalIP, Hostname, ...).
	Addresses []string
	Ready     bool
	// Condition is its Ready condition as text ("Ready=False
	// KubeletNotReady: ...").
	Condition string
	// GPUs is its allocatable nvidia.com/gpu (0 when it has none).
	GPUs int
}

// ParseNodeList reads `kubectl get nodes -o json`: a List (or NodeList)
// of Node objects.
func ParseNodeList(b []byte) ([]KubeNode, error) {
	var list struct {
		Kind  string            `json:"kind"`
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if list.Kind != "List" && list.Kind != "NodeList" {
		return nil, fmt.Errorf("a %q object, not a list of nodes", list.Kind)
	}
	out := make([]KubeNode, 0, len(list.Items))
	for _, raw := range list.Items {
		n, err := parseNode(raw)
		if err != nil {
			return nil, err
		}
		var addrs struct {
			Status struct {
				Addresses []struct {
					Address string `json:"address"`
				} `json:"addresses"`
			} `json:"status"`
		}
		_ = json.Unmarshal(raw, &addrs) // parseNode read it: it is JSON
		r := n.ready()
		gpus, _ := n.gpus()
		k := KubeNode{Name: n.Metadata.Name, Ready: r.Status == "True", Condition: r.text(), GPUs: gpus}
		for _, a := range addrs.Status.Addresses {
			k.Addresses = append(k.Addresses, a.Address)
		}
		out = append(out, k)
	}
	return out, nil
}
