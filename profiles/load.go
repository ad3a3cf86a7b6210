package profiles

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/jetup/jetup/safe"
)

// FileError is a problem in one profile file, at a line when known.
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Set is the loaded profiles, by name.
type Set struct {
	byName map[string]*Profile
}

// Get returns the named profile.
func (s *Set) Get(name string) (*Profile, bool) {
	p, ok := s.byName[name]
	return p, ok
}

// All returns the profiles sorted by name.
func (s *Set) All() []*Profile {
	out := make([]*Profile, 0, len(s.byName))
	for _, p := range s.byName {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Names returns the profile names, sorted.
func (s *Set) Names() []string {
	var n []string
	for _, p := range s.All() {
		n = append(n, p.Name)
	}
	return n
}

// Load reads the embedded profiles from builtin (files *.yaml at its root)
// and then the user profiles from userDir (may be empty or missing). A user
// profile with the name of an embedded one replaces it. Broken files are
// left out of the set and reported in errs, one error per problem, each
// naming file and line; the rest of the set is still usable.
func Load(builtin fs.FS, userDir string) (*Set, []error) {
	set := &Set{byName: map[string]*Profile{}}
	var errs []error

	embedded, err := fs.Glob(builtin, "*.yaml")
	if err != nil {
		errs = append(errs, err)
	}
	for _, name := range embedded {
		data, err := fs.ReadFile(builtin, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		p, perrs := parse("embedded:"+name, data, nil)
		errs = append(errs, perrs...)
		if p == nil {
			continue
		}
		if prev, dup := set.byName[p.Name]; dup {
			errs = append(errs, &FileError{File: p.Source, Msg: fmt.Sprintf("duplicate profile name %q (also in %s)", p.Name, prev.Source)})
			continue
		}
		set.byName[p.Name] = p
	}

	if userDir == "" {
		return set, errs
	}
	// A profile says what to build and flash as root: only from a
	// directory no other user could have made or may change.
	if err := safe.CheckDir(userDir); errors.Is(err, fs.ErrNotExist) {
		return set, errs
	} else if err != nil {
		return set, append(errs, &FileError{File: userDir, Msg: "not read: " + err.Error() + " (chmod go-w, or move your profiles to a directory only you can write to)"})
	}
	files, err := filepath.Glob(filepath.Join(userDir, "*.yaml"))
	if err != nil {
		return set, append(errs, err)
	}
	sort.Strings(files)
	fromUser := map[string]string{}
	for _, file := range files {
		data, err := readProfile(file)
		if err != nil {
			errs = append(errs, &FileError{File: file, Msg: err.Error()})
			continue
		}
		p, perrs := parse(file, data, set)
		errs = append(errs, perrs...)
		if p == nil {
			continue
		}
		if prev, dup := fromUser[p.Name]; dup {
			errs = append(errs, &FileError{File: file, Msg: fmt.Sprintf("duplicate profile name %q (also in %s)", p.Name, prev)})
			continue
		}
		fromUser[p.Name] = file
		set.byName[p.Name] = p
	}
	return set, errs
}

// parse decodes and validates one file. base resolves "base:" references
// (nil for embedded profiles, which may not use base).
func parse(file string, data []byte, base *Set) (*Profile, []error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, []error{yamlError(file, err)}
	}
	if len(doc.Content) == 0 {
		return nil, []error{&FileError{File: file, Msg: "empty file: a profile needs at least name, title, family, steps, console and installer"}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, []error{&FileError{File: file, Line: root.Line, Msg: "a profile must be a mapping of keys (name: ..., title: ...)"}}
	}
	lines := map[string]int{"": root.Line}
	errs := checkKeys(file, root, reflect.TypeOf(Profile{}), "", lines)
	if len(errs) > 0 {
		return nil, errs
	}

	p := &Profile{}
	if b := scalar(root, "base"); b != "" {
		if base == nil {
			return nil, []error{&FileError{File: file, Line: lines["base"], Msg: "embedded profiles cannot use base"}}
		}
		parent, ok := base.Get(b)
		if !ok {
			return nil, []error{&FileError{File: file, Line: lines["base"], Msg: fmt.Sprintf("base profile %q does not exist (known: %s)", b, strings.Join(base.Names(), ", "))}}
		}
		if err := deepCopy(parent, p); err != nil {
			return nil, []error{err}
		}
		p.Notes = nil
	}
	if err := root.Decode(p); err != nil {
		return nil, []error{yamlError(file, err)}
	}
	p.Source = file
	if verrs := validate(p, file, lines); len(verrs) > 0 {
		return nil, verrs
	}
	return p, nil
}

// checkKeys walks node against type t, reporting keys t does not have and
// recording the line of every key path ("recovery.usb_ids[0].id").
func checkKeys(file string, node *yaml.Node, t reflect.Type, prefix string, lines map[string]int) []error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var errs []error
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return []error{&FileError{File: file, Line: node.Line, Msg: fmt.Sprintf("%s must be a mapping of keys", nameOr(prefix))}}
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			key := join(prefix, k.Value)
			f, ok := fields[k.Value]
			if !ok {
				errs = append(errs, &FileError{File: file, Line: k.Line, Msg: fmt.Sprintf("unknown key %q in %s (known keys: %s)", k.Value, nameOr(prefix), strings.Join(sortedKeys(fields), ", "))})
				continue
			}
			lines[key] = k.Line
			errs = append(errs, checkKeys(file, v, f.Type, key, lines)...)
		}
	case reflect.Slice:
		if node.Kind != yaml.SequenceNode {
			if node.Kind == yaml.ScalarNode && node.Tag == "!!null" {
				return nil
			}
			return []error{&FileError{File: file, Line: node.Line, Msg: fmt.Sprintf("%s must be a list", nameOr(prefix))}}
		}
		for i, item := range node.Content {
			key := fmt.Sprintf("%s[%d]", prefix, i)
			lines[key] = item.Line
			errs = append(errs, checkKeys(file, item, t.Elem(), key, lines)...)
		}
	}
	return errs
}

func yamlFields(t reflect.Type) map[string]reflect.StructField {
	m := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		m[tag] = f
	}
	return m
}

func sortedKeys(m map[string]reflect.StructField) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	sort.Strings(k)
	return k
}

func scalar(mapping *yaml.Node, key string) string {
	for i := 0; i+1 < len(mapping.Content); i += 2 {
		if mapping.Content[i].Value == key {
			return mapping.Content[i+1].Value
		}
	}
	return ""
}

func join(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

func nameOr(prefix string) string {
	if prefix == "" {
		return "the profile"
	}
	return prefix
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// yamlError turns a go-yaml error into FileErrors with the line it names.
func yamlError(file string, err error) error {
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		var out []error
		for _, e := range te.Errors {
			out = append(out, lineError(file, e))
		}
		return errors.Join(out...)
	}
	return lineError(file, strings.TrimPrefix(err.Error(), "yaml: "))
}

func lineError(file, msg string) error {
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		return &FileError{File: file, Line: n, Msg: m[2]}
	}
	return &FileError{File: file, Msg: msg}
}

func deepCopy(src, dst *Profile) error {
	b, err := json.Marshal(src)
	if err != nil {
		return err
	}
	return json.NewDecoder(bytes.NewReader(b)).Decode(dst)
}

// UserDir is where user profiles live: $XDG_CONFIG_HOME/jetup/profiles, or
// ~/.config/jetup/profiles; "" when there is no home (no user profiles).
func UserDir() string {
	dir := os.Getenv("XDG_CONFIG_HOME")
	if !filepath.IsAbs(dir) {
		home := safe.Home()
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "jetup", "profiles")
}

// maxProfile bounds a profile file: the largest embedded one is ~2 KiB.
const maxProfile = 1 << 20

// readProfile reads one user profile: a regular file of ours that no one
// else may write to, at most maxProfile bytes.
func readProfile(file string) ([]byte, error) {
	if err := safe.CheckFile(file); err != nil {
		return nil, fmt.Errorf("not read: %v (chmod go-w)", err)
	}
	return safe.ReadFile(file, maxProfile)
}
