package bundle

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"os/exec"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
)

// Nix's base32 is checked against nix-hash, the real tool.
func TestNix32IsNixHashs(t *testing.T) {
	testkit.NeedCommands(t, "nix-hash")
	for _, in := range []string{"", "a", "jetup", strings.Repeat("x", 1000)} {
		sum := sha256.Sum256([]byte(in))
		hexs := hex.EncodeToString(sum[:])
		out, err := exec.Command("nix-hash", "--type", "sha256", "--to-base32", hexs).Output()
		if err != nil {
			t.Fatal(err)
		}
		want := strings.TrimSpace(string(out))
		if got := nix32(sum[:]); got != want {
			t.Errorf("nix32(%s) = %s, nix-hash says %s", hexs, got, want)
		}
		back, err := unnix32(want, 32)
		if err != nil || hex.EncodeToString(back) != hexs {
			t.Errorf("unnix32(%s) = %x %v", want, back, err)
		}
		for _, form := range []string{"sha256:" + want, "sha256:" + hexs, "sha256-" + base64.StdEncoding.EncodeToString(sum[:])} {
			h, err := ParseNarHash(form)
			if err != nil || h != NarHash(sum) || h.String() != "sha256:"+want {
				t.Errorf("ParseNarHash(%s) = %v %v", form, h, err)
			}
		}
	}
	for _, bad := range []string{"", "sha256:", "md5:abc", "sha256:" + strings.Repeat("e", 52), "sha256:" + strings.Repeat("z", 52), "sha256-AAAA"} {
		if _, err := ParseNarHash(bad); err == nil {
			t.Errorf("ParseNarHash(%q) accepted", bad)
		}
	}
}

const goodManifest = `{"format": "jetup-manifest/1", "fingerprint": "SHA256:sm7jhd934CJSOe3Gm19VAuGzK8xmAsnDcm81PUtpBu0",
 "arch": "aarch64", "profile": "/nix/var/nix/profiles/system", "current": "/nix/store/0c3qb5xrfkkhxnnzk9mqxbkzcyxj5hql-nixos-system-a",
 "generations": [{"number": 3, "path": "/nix/store/0c3qb5xrfkkhxnnzk9mqxbkzcyxj5hql-nixos-system-a", "current": true}],
 "sequence": 2, "time": "2026-01-01T00:00:00Z",
 "paths": [{"path": "/nix/store/0c3qb5xrfkkhxnnzk9mqxbkzcyxj5hql-nixos-system-a", "nar_hash": "sha256:1acbvfyvc3rnry7dvk3payy6g1hbzwnpn2facajjp4r0agwfand0", "nar_size": 10}]}`

func TestParseManifestRefusesWhatNoBoardPrints(t *testing.T) {
	m, err := ParseManifest([]byte(goodManifest))
	if err != nil || !m.Has("/nix/store/0c3qb5xrfkkhxnnzk9mqxbkzcyxj5hql-nixos-system-a") || m.Bytes() != 10 {
		t.Fatalf("%v %+v", err, m)
	}
	bad := map[string][2]string{
		"format":           {`jetup-manifest/1`, `jetup-manifest/9`},
		"fingerprint":      {`SHA256:sm7jhd934CJSOe3Gm19VAuGzK8xmAsnDcm81PUtpBu0`, `SHA256:../../x`},
		"path outside":     {`"path": "/nix/store/0c3qb5xrfkkhxnnzk9mqxbkzcyxj5hql-nixos-system-a"`, `"path": "/nix/store/0c3qb5xrfkkhxnnzk9mqxbkzcyxj5hql-x/../../etc"`},
		"shell in a path":  {`"path": "/nix/store/0c3qb5xrfkkhxnnzk9mqxbkzcyxj5hql-nixos-system-a"`, `"path": "/nix/store/0c3qb5xrfkkhxnnzk9mqxbkzcyxj5hql-$(reboot)"`},
		"profile":          {`/nix/var/nix/profiles/system`, `/etc/passwd`},
		"hash":             {`sha256:1acb`, `sha256:zzzz`},
		"size":             {`"nar_size": 10`, `"nar_size": -1`},
		"hostname control": {`"arch": "aarch64"`, `"arch": "aarch64", "hostname": "a\u001b[2Jb"`},
	}
	for name, r := range bad {
		in := strings.Replace(goodManifest, r[0], r[1], 1)
		if in == goodManifest {
			t.Fatalf("%s: replacement not found", name)
		}
		if _, err := ParseManifest([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
