package verify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/jetup/jetup/safe"
	"go.yaml.in/yaml/v3"
)

// workload is the --workload pod manifest, read and checked before the
// board is reached.
type workload struct {
	File      string
	Name      string
	Namespace string
	doc       map[string]any
}

var kubeNameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// readWorkload reads a Pod manifest (YAML or JSON, one document).
func readWorkload(file string) (*workload, error) {
	raw, err := safe.ReadFile(file, 1<<20)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty: give a Pod manifest")
		}
		return nil, fmt.Errorf("not YAML or JSON: %v", err)
	}
	var more any
	if dec.Decode(&more) == nil {
		return nil, errors.New("holds more than one document: give one Pod")
	}
	w := &workload{File: file, doc: doc, Namespace: "default"}
	kind, _ := doc["kind"].(string)
	api, _ := doc["apiVersion"].(string)
	if kind != "Pod" || api != "v1" {
		return nil, fmt.Errorf("kind %q apiVersion %q, not a Pod (apiVersion: v1, kind: Pod)", kind, api)
	}
	meta, _ := doc["metadata"].(map[string]any)
	w.Name, _ = meta["name"].(string)
	if ns, ok := meta["namespace"].(string); ok && ns != "" {
		w.Namespace = ns
	}
	if !kubeNameRe.MatchString(w.Name) {
		return nil, fmt.Errorf("metadata.name %q is not a pod name (lowercase letters, digits, - and .)", w.Name)
	}
	if !kubeNameRe.MatchString(w.Namespace) {
		return nil, fmt.Errorf("metadata.namespace %q is not a namespace name", w.Namespace)
	}
	if _, err := json.Marshal(doc); err != nil {
		return nil, fmt.Errorf("cannot be sent as JSON: %v", err)
	}
	return w, nil
}

// manifest is the pod as JSON, pinned to node with a nodeSelector when the
// manifest does not say where it runs: the pod must prove this board, not
// another node of the cluster.
func (w *workload) manifest(node string) ([]byte, bool) {
	spec, _ := w.doc["spec"].(map[string]any)
	pinned := false
	if spec != nil && node != "" {
		_, hasName := spec["nodeName"]
		_, hasSel := spec["nodeSelector"]
		_, hasAff := spec["affinity"]
		if !hasName && !hasSel && !hasAff {
			spec["nodeSelector"] = map[string]any{"kubernetes.io/hostname": node}
			pinned = true
		}
	}
	b, _ := json.Marshal(w.doc)
	if pinned {
		delete(spec, "nodeSelector")
	}
	return b, pinned
}
