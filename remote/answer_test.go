package remote

import "testing"

func TestAnswer(t *testing.T) {
	for _, c := range []struct {
		line, key, val string
		ok             bool
	}{
		{"jetup:arch=aarch64", "arch", "aarch64", true},
		{"jetup:delta_err=error: path '/nix/store/x' is not valid=really", "delta_err", "error: path '/nix/store/x' is not valid=really", true},
		{"jetup:rebooting", "rebooting", "", true},
		{"jetup:probe_end=1", "probe_end", "1", true},
		{"jetup:", "", "", true},
		{"Last login: Sun Dec  6 15:00:00 2026 jetup:arch=x86_64", "", "", false},
		{" jetup:arch=x86_64", "", "", false},
		{"JETUP:arch=x86_64", "", "", false},
		{"", "", "", false},
	} {
		k, v, ok := Answer(c.line)
		if k != c.key || v != c.val || ok != c.ok {
			t.Errorf("Answer(%q) = %q, %q, %v; want %q, %q, %v", c.line, k, v, ok, c.key, c.val, c.ok)
		}
	}
}
