package serialcon

import (
	"fmt"
	"regexp"
	"strings"
)

// Until is when a session stops on its own: a stage id, or a regular
// expression matched against each line as it arrives (also before its
// newline, so a prompt that waits for input matches).
type Until struct {
	Stage string
	Re    *regexp.Regexp
}

// ParseUntil reads an --until value: a stage id if it is one, otherwise a
// regular expression. "" means no condition (nil).
func ParseUntil(s string) (*Until, error) {
	if s == "" {
		return nil, nil
	}
	if IsStage(s) {
		return &Until{Stage: s}, nil
	}
	re, err := regexp.Compile(s)
	if err != nil {
		return nil, fmt.Errorf("--until %q is neither a stage (%s) nor a regular expression: %v", s, strings.Join(Stages, ", "), err)
	}
	return &Until{Re: re}, nil
}

// String is the condition as given.
func (u *Until) String() string {
	if u == nil {
		return ""
	}
	if u.Stage != "" {
		return u.Stage
	}
	return u.Re.String()
}

func (u *Until) matchStage(id string) bool { return u != nil && u.Stage != "" && u.Stage == id }

func (u *Until) matchLine(line string) bool { return u != nil && u.Re != nil && u.Re.MatchString(line) }
