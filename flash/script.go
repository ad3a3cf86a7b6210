package flash

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/jetup/jetup/step"
)

// ResolveScript finds the flash script in path: path itself when it is an
// executable file, else the one executable in path/bin (a `result` link or
// a store path). Its name is not the flake attribute:
// flash-orin-nano-super-devkit builds bin/initrd-flash-orin-nano-devkit.
func ResolveScript(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	// The store path, not the link: a rebuild that moves `result` during
	// the flash must not change what runs.
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", step.Refuse("no-script", "pass --script the `result` link of `nix build .#flash-<board>` or the executable in result/bin",
			"cannot use %s as the flash script: %v", path, err)
	}
	if !fi.IsDir() {
		if fi.Mode()&0o111 == 0 {
			return "", step.Refuse("no-script", "pass the executable in result/bin (or the result link itself)", "%s is not executable", path)
		}
		return abs, nil
	}
	dir := filepath.Join(abs, "bin")
	if _, err := os.Stat(dir); err != nil {
		dir = abs
	}
	found := executables(dir)
	if len(found) > 1 {
		// A build output may hold helpers next to the flash script.
		var flash []string
		for _, f := range found {
			if b := filepath.Base(f); strings.HasPrefix(b, "initrd-flash-") || strings.HasPrefix(b, "flash-") {
				flash = append(flash, f)
			}
		}
		if len(flash) > 0 {
			found = flash
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", step.Refuse("no-script", "pass --script the result of building a flash-<board> attribute of jetpack-nixos",
			"no executable in %s", dir)
	}
	names := make([]string, len(found))
	for i, f := range found {
		names[i] = filepath.Base(f)
	}
	return "", step.Refuse("no-script", "pass --script with the full path of the one to run",
		"%s holds several scripts (%s)", dir, strings.Join(names, ", "))
}

func executables(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// describeScript is a one-line note for the events.
func describeScript(path string, built bool) string {
	if built {
		return fmt.Sprintf("flash script built: %s", path)
	}
	return fmt.Sprintf("flash script: %s", path)
}
