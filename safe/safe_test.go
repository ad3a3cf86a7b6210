package safe

import (
	"errors"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jetup/jetup/internal/testkit"
)

func TestNameRefusesEveryPath(t *testing.T) {
	for _, ok := range []string{"orin-nano-devkit", "20260102T030405Z-rpi4-2", "flash-orin-nx-super-devkit", "a", "v1.2_x", "nixosConfigurations.rpi4.config.system.build.sdImage"} {
		if err := Name("profile", ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".", "..", "../x", "../../../outside", "a/b", "/abs", ".hidden", "-flag", "a b", "a\nb", "a\x00b", "ü", strings.Repeat("a", MaxName+1), "x\\y"} {
		err := Name("profile", bad)
		if err == nil {
			t.Errorf("%q accepted", bad)
			continue
		}
		if strings.ContainsAny(err.Error(), "\n\x00") {
			t.Errorf("%q: the error carries the control: %q", bad, err)
		}
	}
}

func TestTextRemovesEveryControl(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, tabs\tand\nnewlines":             "plain text, tabs\tand\nnewlines",
		"copy \x1b]52;c;cm0gLXJmIH4K\x07me":           "copy me",
		"st \x1b]0;title\x1b\\end":                    "st end",
		"clear\x1b[2J\x1b[H\x1b[31mred\x1b[0m":        "clearred",
		"dcs\x1bP1$r0m\x1b\\x":                        "dcsx",
		"bell\a back\bspace cr\r so\x0e del\x7f":      "bell backspace cr so del",
		"c1 \u009b31m csi":                            "c1 31m csi",
		"raw c1 \x9b2J":                               "raw c1 \uFFFD2J",
		"bidi \u202eevil\u202c end":                   "bidi evil end",
		"tail escape\x1b":                             "tail escape",
		"Jetson UEFI firmware (version 36.4.3 built)": "Jetson UEFI firmware (version 36.4.3 built)",
		"ünïcödé ✓ 日本":                                "ünïcödé ✓ 日本",
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzText(f *testing.F) {
	f.Add("a\x1b]52;c;x\x07b\x1b[2J")
	f.Add("\x9b\xc2\x9b\u202e")
	f.Fuzz(func(t *testing.T, s string) {
		out := Text(s)
		for _, r := range out {
			if dropped(r) {
				t.Fatalf("Text(%q) = %q keeps %U", s, out, r)
			}
		}
		if Text(out) != out {
			t.Fatalf("Text is not idempotent on %q", s)
		}
	})
}

func TestWriterSanitizesEveryWrite(t *testing.T) {
	var b strings.Builder
	w := NewWriter(&b)
	n, err := w.Write([]byte("a\x1b]52;c;eA==\x07b\n"))
	if err != nil || n != len("a\x1b]52;c;eA==\x07b\n") || b.String() != "ab\n" {
		t.Errorf("%d %v %q", n, err, b.String())
	}
}

func mkdir(t *testing.T, p string, mode os.FileMode) string {
	t.Helper()
	if err := os.Mkdir(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return p
}

func TestDirMakesAPrivateDirectory(t *testing.T) {
	d := filepath.Join(t.TempDir(), "a", "b", "jetup")
	if err := Dir(d); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{d, filepath.Dir(d)} {
		if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o700 {
			t.Errorf("%s is %v", p, fi.Mode())
		}
	}
	if err := CheckDir(filepath.Join(d, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing: %v", err)
	}
}

func TestDirRefusesWhatOthersCanWrite(t *testing.T) {
	base := t.TempDir()
	open := mkdir(t, filepath.Join(base, "open"), 0o777)
	var ue *UntrustedError
	if err := CheckDir(open); !errors.As(err, &ue) || !strings.Contains(err.Error(), "can be written to by other users") {
		t.Errorf("0777: %v", err)
	}
	group := mkdir(t, filepath.Join(base, "group"), 0o770)
	if err := CheckDir(group); !errors.As(err, &ue) {
		t.Errorf("0770: %v", err)
	}
	// Below a directory others may write to without the sticky bit, a
	// private directory can be swapped: refused.
	inner := mkdir(t, filepath.Join(open, "mine"), 0o700)
	if err := CheckDir(inner); !errors.As(err, &ue) || ue.Path != open {
		t.Errorf("below 0777: %v", err)
	}
	// Below a sticky one (/tmp) it is ours to keep.
	sticky := mkdir(t, filepath.Join(base, "sticky"), os.ModeSticky|0o777)
	if err := CheckDir(mkdir(t, filepath.Join(sticky, "mine"), 0o700)); err != nil {
		t.Errorf("below a sticky dir: %v", err)
	}
	// A link to a directory is judged by the directory.
	link := filepath.Join(base, "link")
	_ = os.Symlink(open, link)
	if err := CheckDir(link); !errors.As(err, &ue) {
		t.Errorf("link to 0777: %v", err)
	}
	f := filepath.Join(base, "file")
	_ = os.WriteFile(f, nil, 0o600)
	if err := CheckDir(f); !errors.As(err, &ue) {
		t.Errorf("a file: %v", err)
	}
}

func TestDirRefusesAnotherUsersDirectory(t *testing.T) {
	testkit.NeedRoot(t)
	u, err := user.Lookup("nobody")
	testkit.Need(t, err == nil, "no nobody user")
	uid, _ := strconv.Atoi(u.Uid)
	d := mkdir(t, filepath.Join(t.TempDir(), "theirs"), 0o700)
	_ = os.Chown(d, uid, -1)
	var ue *UntrustedError
	if err := CheckDir(d); !errors.As(err, &ue) || !strings.Contains(err.Error(), "belongs to nobody") {
		t.Errorf("%v", err)
	}
	if err := Dir(d); !errors.As(err, &ue) {
		t.Errorf("Dir: %v", err)
	}
	// Under sudo, the directory of the user who ran sudo is theirs.
	t.Setenv("SUDO_UID", u.Uid)
	if err := CheckDir(d); err != nil {
		t.Errorf("SUDO_UID's own directory: %v", err)
	}
	f := filepath.Join(t.TempDir(), "known_hosts")
	_ = os.WriteFile(f, nil, 0o600)
	_ = os.Chown(f, uid, -1)
	t.Setenv("SUDO_UID", "")
	if err := CheckFile(f); !errors.As(err, &ue) {
		t.Errorf("another user's file: %v", err)
	}
}

func TestCheckFile(t *testing.T) {
	d := t.TempDir()
	f := filepath.Join(d, "known_hosts")
	if err := CheckFile(f); err != nil {
		t.Errorf("missing: %v", err)
	}
	_ = os.WriteFile(f, nil, 0o600)
	if err := CheckFile(f); err != nil {
		t.Errorf("0600: %v", err)
	}
	_ = os.Chmod(f, 0o666)
	var ue *UntrustedError
	if err := CheckFile(f); !errors.As(err, &ue) {
		t.Errorf("0666: %v", err)
	}
	if err := CheckFile(d); !errors.As(err, &ue) {
		t.Errorf("a directory: %v", err)
	}
}
