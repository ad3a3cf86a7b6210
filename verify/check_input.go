package verify

import (
	"fmt"
	"strings"
)

// CheckImage says whether ref can be given as Options.ContainerImage:
// the same rule Run applies, for a form that asks before running.
func CheckImage(ref string) error {
	if ref != "" && !imageRe.MatchString(ref) {
		return fmt.Errorf("%q is not an image reference (like nvcr.io/nvidia/l4t-base:r36.2.0)", ref)
	}
	return nil
}

// CheckCUDASample says whether cmd can be given as Options.CUDASample.
func CheckCUDASample(cmd string) error {
	if strings.ContainsAny(cmd, "\n\x00") {
		return fmt.Errorf("give one command or store path, without a line break")
	}
	return nil
}

// CheckWorkload reads file as Run reads Options.Workload: one Pod
// manifest, YAML or JSON.
func CheckWorkload(file string) error {
	if file == "" {
		return nil
	}
	if _, err := readWorkload(file); err != nil {
		return fmt.Errorf("%s: %v", file, err)
	}
	return nil
}
