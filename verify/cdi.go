package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
	cdi "tags.cncf.io/container-device-interface/specs-go"
)

// A CDI spec is read with the CDI project's own types (its specs-go
// module: types only, no dependencies); JSON files with encoding/json,
// YAML ones with go.yaml.in/yaml/v3, as the CDI registry loads them.
func parseCDI(name string, b []byte) (*cdi.Spec, error) {
	var s cdi.Spec
	if strings.HasSuffix(name, ".json") {
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&s); err != nil {
			return nil, fmt.Errorf("not JSON: %v", err)
		}
	} else if err := yaml.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("not YAML: %v", err)
	}
	if s.Kind == "" || s.Version == "" {
		return nil, fmt.Errorf("no cdiVersion or kind: not a CDI spec")
	}
	return &s, nil
}

// cdiNames are the fully qualified device names a spec defines
// ("nvidia.com/gpu=all").
func cdiNames(s *cdi.Spec) []string {
	var out []string
	for _, d := range s.Devices {
		out = append(out, s.Kind+"="+d.Name)
	}
	sort.Strings(out)
	return out
}

// cdiNodes counts the device nodes the named device brings (its own and
// the spec's common ones).
func cdiNodes(s *cdi.Spec, device string) int {
	n := len(s.ContainerEdits.DeviceNodes)
	for _, d := range s.Devices {
		if d.Name == device {
			n += len(d.ContainerEdits.DeviceNodes)
		}
	}
	return n
}
