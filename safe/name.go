package safe

import (
	"fmt"
	"unicode/utf8"
)

// MaxName is the longest name accepted: far more than any profile, run id
// or label needs, short enough that a run directory's name (time, profile,
// attempt) stays within a file system's 255-byte limit.
const MaxName = 100

// Name checks a name that becomes a path component (a profile, a run id, a
// kit, a label, a log's file name): ASCII letters, digits, '.', '_' and '-',
// starting with a letter or a digit, at most MaxName bytes. So it can never
// be "..", name another directory, start like a flag or hide in a listing.
// what names the name in the error ("profile", "run id").
func Name(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s name", what)
	}
	if len(s) > MaxName {
		return fmt.Errorf("%s name %q is longer than %d characters", what, Text(trim(s)), MaxName)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if letter || i > 0 && (c == '.' || c == '_' || c == '-') {
			continue
		}
		return fmt.Errorf("bad %s name %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", what, Text(s))
	}
	return nil
}

// trim cuts s for an error message.
func trim(s string) string {
	if len(s) <= 40 {
		return s
	}
	i := 40
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
