package deploy

import (
	"strings"
	"testing"
)

func TestParsePathInfoBothShapes(t *testing.T) {
	// Nix 2.8 (recorded): an array with "path".
	arr := `[{"path":"/nix/store/aaa-top","narHash":"sha256-x","narSize":1424,"references":["/nix/store/bbb-dep"],"deriver":"/nix/store/x.drv","registrationTime":1795241206,"ultimate":true},
	{"path":"/nix/store/bbb-dep","narHash":"sha256-y","narSize":120,"references":[],"closureSize":120}]`
	// Nix >= 2.19: an object keyed by path.
	obj := `{"/nix/store/aaa-top":{"narHash":"sha256-x","narSize":1424,"references":["/nix/store/bbb-dep"]},
	"/nix/store/bbb-dep":{"narSize":120,"references":[],"version":2}}`
	for name, in := range map[string]string{"array": arr, "object": obj} {
		c, err := ParsePathInfo("/nix/store/aaa-top", []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(c.Paths) != 2 || c.Bytes != 1544 || c.Size("/nix/store/bbb-dep") != 120 || !c.Has("/nix/store/aaa-top") {
			t.Errorf("%s: %+v", name, c)
		}
		if l := c.List(); l[0] != "/nix/store/aaa-top" || l[1] != "/nix/store/bbb-dep" {
			t.Errorf("%s: list %v", name, l)
		}
	}
}

func TestParsePathInfoRefusesInvalidPaths(t *testing.T) {
	for _, in := range []string{
		`[{"path":"/nix/store/aaa-top","valid":false}]`,
		`{"/nix/store/aaa-top":null}`,
		`[{"path":"/nix/store/other","narSize":1}]`,
		``,
		`error: path is not valid`,
	} {
		if _, err := ParsePathInfo("/nix/store/aaa-top", []byte(in)); err == nil {
			t.Errorf("accepted %q", in)
		}
	}
	_, err := ParsePathInfo("/nix/store/aaa-top", []byte(`{"/nix/store/aaa-top":null}`))
	if !strings.Contains(err.Error(), "not valid") {
		t.Errorf("message %q", err)
	}
}

func TestFlakeInstallable(t *testing.T) {
	cases := map[string]string{
		".#lab3":                       ".#nixosConfigurations.lab3.config.system.build.toplevel",
		"github:me/boards#orin":        "github:me/boards#nixosConfigurations.orin.config.system.build.toplevel",
		".#packages.aarch64-linux.sys": ".#packages.aarch64-linux.sys",
	}
	for in, want := range cases {
		if got, err := FlakeInstallable(in); err != nil || got != want {
			t.Errorf("%s: %s %v", in, got, err)
		}
	}
	for _, bad := range []string{"lab3", "#lab3", ".#"} {
		if _, err := FlakeInstallable(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestStoreQueryEscapesForNix(t *testing.T) {
	if q := storeQuery(Facts{StoreRoot: "/mnt", Priv: "root"}); q != "remote-store=local%3Froot%3D%2Fmnt" {
		t.Errorf("installer query %q", q)
	}
	if q := storeQuery(Facts{Priv: "sudo"}); q != "remote-program=sudo%20-n%20nix-daemon" {
		t.Errorf("sudo query %q", q)
	}
	if q := storeQuery(Facts{Priv: "root"}); q != "" {
		t.Errorf("root query %q", q)
	}
}
