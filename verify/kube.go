package verify

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// The Kubernetes objects verify reads, as minimal typed structs. The
// official k8s.io/api/core/v1 types were measured: they add 4.6 MB to the
// binary (11.3 to 16.0 MB stripped) and 17 modules, for the five fields
// read here. The field names are Kubernetes' API (core/v1 Node and Pod);
// anything else in the JSON is ignored.

type kubeCondition struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

// text is "Ready=False KubeletNotReady: container runtime network not ready: ...".
func (c kubeCondition) text() string {
	s := c.Type + "=" + c.Status
	if c.Reason != "" {
		s += " " + c.Reason
	}
	if c.Message != "" {
		s += ": " + c.Message
	}
	return s
}

type kubeNode struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Status struct {
		Allocatable map[string]string `json:"allocatable"`
		Conditions  []kubeCondition   `json:"conditions"`
		NodeInfo    struct {
			KubeletVersion          string `json:"kubeletVersion"`
			ContainerRuntimeVersion string `json:"containerRuntimeVersion"`
		} `json:"nodeInfo"`
	} `json:"status"`
}

// parseNode reads `kubectl get node NAME -o json`.
func parseNode(b []byte) (*kubeNode, error) {
	var n kubeNode
	if err := json.Unmarshal(b, &n); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if n.Kind != "Node" {
		return nil, fmt.Errorf("a %q object, not a Node", n.Kind)
	}
	return &n, nil
}

// ready is the node's Ready condition (a zero one when it has none yet).
func (n *kubeNode) ready() kubeCondition {
	for _, c := range n.Status.Conditions {
		if c.Type == "Ready" {
			return c
		}
	}
	return kubeCondition{Type: "Ready", Status: "Unknown", Reason: "NoReadyCondition", Message: "the node reports no Ready condition yet"}
}

// gpus is the node's allocatable nvidia.com/gpu count (a resource
// quantity: "1", or "0" with no device plugin).
func (n *kubeNode) gpus() (int, bool) {
	q, ok := n.Status.Allocatable["nvidia.com/gpu"]
	if !ok {
		return 0, false
	}
	v, err := strconv.Atoi(strings.TrimSpace(q))
	if err != nil {
		return 0, true
	}
	return v, true
}

type kubeContainerState struct {
	Waiting *struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	} `json:"waiting"`
	Terminated *struct {
		ExitCode int    `json:"exitCode"`
		Reason   string `json:"reason"`
		Message  string `json:"message"`
	} `json:"terminated"`
}

type kubePod struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	Status struct {
		Phase             string          `json:"phase"`
		Reason            string          `json:"reason"`
		Message           string          `json:"message"`
		Conditions        []kubeCondition `json:"conditions"`
		ContainerStatuses []struct {
			Name  string             `json:"name"`
			State kubeContainerState `json:"state"`
		} `json:"containerStatuses"`
	} `json:"status"`
}

func parsePod(b []byte) (*kubePod, error) {
	var p kubePod
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	if p.Kind != "Pod" {
		return nil, fmt.Errorf("a %q object, not a Pod", p.Kind)
	}
	return &p, nil
}

// state says where the pod is: its phase and why ("Pending:
// Unschedulable 0/1 nodes are available: 1 Insufficient nvidia.com/gpu").
func (p *kubePod) state() string {
	s := p.Status.Phase
	if s == "" {
		s = "Pending"
	}
	if p.Status.Reason != "" {
		s += ": " + p.Status.Reason
		if p.Status.Message != "" {
			s += " " + p.Status.Message
		}
		return s
	}
	for _, c := range p.Status.ContainerStatuses {
		switch st := c.State; {
		case st.Terminated != nil:
			return fmt.Sprintf("%s: container %s exited %d (%s)%s", s, c.Name, st.Terminated.ExitCode, st.Terminated.Reason, prefixed(" ", st.Terminated.Message))
		case st.Waiting != nil && st.Waiting.Reason != "":
			return fmt.Sprintf("%s: container %s waiting: %s%s", s, c.Name, st.Waiting.Reason, prefixed(" ", st.Waiting.Message))
		}
	}
	for _, c := range p.Status.Conditions {
		if c.Status != "True" && c.Reason != "" {
			return s + ": " + c.Reason + prefixed(" ", c.Message)
		}
	}
	return s
}

func prefixed(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}
