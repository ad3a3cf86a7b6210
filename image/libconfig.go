package image

import (
	"fmt"
	"strconv"
	"strings"
)

// A small libconfig reader for sw-description, the syntax SWUpdate reads
// with libconfig (hyperrealm.github.io/libconfig): settings `name = value;`
// or `name : value`, groups { }, lists ( ), arrays [ ], strings (adjacent
// ones joined), integers (decimal, hex, L suffix), floats, booleans and
// the three comment styles. No Go module for it is maintained: the one
// published Go port (xiaocok/libconfig, 2021) says it is not for
// production use. The input is bounded (1 MiB, 64 levels deep), and
// @include is refused: a bundle cannot name files on this machine.

// cfgValue is a parsed value: a scalar (Str holds its text), or a group
// (Settings), or a list/array (Items).
type cfgValue struct {
	Kind     byte // 's' string, 'n' number, 'b' bool, 'g' group, 'l' list or array
	Str      string
	Settings []cfgSetting
	Items    []cfgValue
	Line     int
}

type cfgSetting struct {
	Name  string
	Value cfgValue
}

// get finds a setting of a group by name.
func (v cfgValue) get(name string) (cfgValue, bool) {
	for _, s := range v.Settings {
		if s.Name == name {
			return s.Value, true
		}
	}
	return cfgValue{}, false
}

const (
	maxCfgBytes = 1 << 20
	maxCfgDepth = 64
)

type cfgParser struct {
	s    string
	i    int
	line int
}

// parseLibconfig parses a whole configuration into its root group.
func parseLibconfig(src string) (cfgValue, error) {
	if len(src) > maxCfgBytes {
		return cfgValue{}, fmt.Errorf("it is %d bytes, more than the %d any sw-description needs", len(src), maxCfgBytes)
	}
	p := &cfgParser{s: src, line: 1}
	root := cfgValue{Kind: 'g', Line: 1}
	if err := p.settings(&root, 0, 0); err != nil {
		return cfgValue{}, err
	}
	return root, nil
}

func (p *cfgParser) errf(format string, a ...any) error {
	return fmt.Errorf("line %d: %s", p.line, fmt.Sprintf(format, a...))
}

// skip passes white space and comments.
func (p *cfgParser) skip() {
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\n':
			p.line++
			p.i++
		case c == ' ' || c == '\t' || c == '\r' || c == '\f':
			p.i++
		case c == '#' || strings.HasPrefix(p.s[p.i:], "//"):
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		case strings.HasPrefix(p.s[p.i:], "/*"):
			end := strings.Index(p.s[p.i+2:], "*/")
			if end < 0 {
				p.i = len(p.s)
				return
			}
			p.line += strings.Count(p.s[p.i:p.i+2+end], "\n")
			p.i += end + 4
		default:
			return
		}
	}
}

// settings reads settings until close (0: the end of input).
func (p *cfgParser) settings(g *cfgValue, close byte, depth int) error {
	for {
		p.skip()
		if p.i >= len(p.s) {
			if close != 0 {
				return p.errf("the group opened on line %d is not closed", g.Line)
			}
			return nil
		}
		if close != 0 && p.s[p.i] == close {
			p.i++
			return nil
		}
		if p.s[p.i] == '@' {
			return p.errf("@include is not allowed in a bundle's sw-description")
		}
		start := p.i
		for p.i < len(p.s) && (isAlnum(p.s[p.i]) || p.s[p.i] == '-' || p.s[p.i] == '_' || p.s[p.i] == '*') {
			p.i++
		}
		name := p.s[start:p.i]
		if name == "" || !(isAlpha(name[0]) || name[0] == '*') {
			return p.errf("a setting name was expected, found %q", p.peek())
		}
		p.skip()
		if p.i >= len(p.s) || (p.s[p.i] != '=' && p.s[p.i] != ':') {
			return p.errf("'=' or ':' was expected after %s", name)
		}
		p.i++
		v, err := p.value(depth + 1)
		if err != nil {
			return err
		}
		g.Settings = append(g.Settings, cfgSetting{Name: name, Value: v})
		p.skip()
		if p.i < len(p.s) && (p.s[p.i] == ';' || p.s[p.i] == ',') {
			p.i++
		}
	}
}

func (p *cfgParser) peek() string {
	if p.i >= len(p.s) {
		return "the end"
	}
	return p.s[p.i : p.i+1]
}

func (p *cfgParser) value(depth int) (cfgValue, error) {
	if depth > maxCfgDepth {
		return cfgValue{}, p.errf("nested deeper than %d levels", maxCfgDepth)
	}
	p.skip()
	if p.i >= len(p.s) {
		return cfgValue{}, p.errf("a value was expected, the text ends")
	}
	v := cfgValue{Line: p.line}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		v.Kind = 'g'
		return v, p.settings(&v, '}', depth)
	case c == '(' || c == '[':
		p.i++
		v.Kind = 'l'
		close := byte(')')
		if c == '[' {
			close = ']'
		}
		for {
			p.skip()
			if p.i < len(p.s) && p.s[p.i] == close {
				p.i++
				return v, nil
			}
			item, err := p.value(depth + 1)
			if err != nil {
				return v, err
			}
			v.Items = append(v.Items, item)
			p.skip()
			if p.i < len(p.s) && p.s[p.i] == ',' {
				p.i++
				continue
			}
			if p.i >= len(p.s) || p.s[p.i] != close {
				return v, p.errf("',' or '%c' was expected in the list opened on line %d", close, v.Line)
			}
		}
	case c == '"':
		v.Kind = 's'
		var b strings.Builder
		for p.i < len(p.s) && p.s[p.i] == '"' {
			s, err := p.str()
			if err != nil {
				return v, err
			}
			b.WriteString(s)
			p.skip()
		}
		v.Str = b.String()
		return v, nil
	default:
		start := p.i
		for p.i < len(p.s) && (isAlnum(p.s[p.i]) || strings.IndexByte("+-._", p.s[p.i]) >= 0) {
			p.i++
		}
		tok := p.s[start:p.i]
		switch low := strings.ToLower(tok); {
		case low == "true" || low == "false":
			v.Kind, v.Str = 'b', low
		case tok != "" && isNumber(tok):
			v.Kind, v.Str = 'n', tok
		default:
			return v, p.errf("a value was expected, found %q", trunc(tok+p.peek(), 20))
		}
		return v, nil
	}
}

// str reads one quoted string with libconfig's escapes.
func (p *cfgParser) str() (string, error) {
	line := p.line
	p.i++ // the opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '"':
			return b.String(), nil
		case '\n':
			p.line++
			b.WriteByte(c)
		case '\\':
			if p.i >= len(p.s) {
				break
			}
			e := p.s[p.i]
			p.i++
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case 'f':
				b.WriteByte('\f')
			case 'x':
				if p.i+2 <= len(p.s) {
					if n, err := strconv.ParseUint(p.s[p.i:p.i+2], 16, 8); err == nil {
						b.WriteByte(byte(n))
						p.i += 2
						continue
					}
				}
				return "", p.errf("bad \\x escape")
			default:
				b.WriteByte(e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("line %d: the string is not closed", line)
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isAlpha(c) || c >= '0' && c <= '9' }

func isNumber(t string) bool {
	t = strings.TrimRight(strings.TrimRight(t, "L"), "l")
	if _, err := strconv.ParseInt(t, 0, 64); err == nil {
		return true
	}
	if _, err := strconv.ParseUint(t, 0, 64); err == nil {
		return true
	}
	_, err := strconv.ParseFloat(t, 64)
	return err == nil
}
