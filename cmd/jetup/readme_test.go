package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// The README's usage stays in step with the commands: every command a
// person can run is shown there as `jetup PATH`, and every flag it takes
// as --NAME (or its one-letter -N). A new command or flag without a line in the README fails
// here, naming it.
func TestREADMENamesEveryCommandAndFlag(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		path := c.CommandPath()
		if c.HasParent() && !regexp.MustCompile(`(?m)\b`+regexp.QuoteMeta(path)+`\b`).MatchString(readme) {
			t.Errorf("README does not show `%s` (%s)", path, c.Short)
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Name == "help" || f.Name == "version" {
				return
			}
			short := f.Shorthand != "" && regexp.MustCompile(`(^|[\s\[(|])-`+regexp.QuoteMeta(f.Shorthand)+`[\s\])|]`).MatchString(readme)
			if !strings.Contains(readme, "--"+f.Name) && !short {
				t.Errorf("README does not name %s's --%s (%s)", path, f.Name, f.Usage)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk((&app{}).rootCommand())
}

// And the other way: every `jetup ...` line in the README's code blocks
// names a command that exists and only flags it takes, so a renamed flag
// cannot leave the README teaching the old one.
func TestREADMECommandLinesRunAsWritten(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	root := (&app{}).rootCommand()
	flagRe := regexp.MustCompile(`--[a-z][a-z0-9-]*`)
	inCode := false
	for i, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
			continue
		}
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "sudo "))
		if !inCode || !strings.HasPrefix(line, "jetup ") {
			continue
		}
		code, _, _ := strings.Cut(line, "#") // the comment after it
		cmd, _, err := root.Find(strings.Fields(code)[1:])
		if err != nil {
			t.Errorf("README.md:%d: %q: %v", i+1, line, err)
			continue
		}
		for _, f := range flagRe.FindAllString(code, -1) {
			name := strings.TrimPrefix(f, "--")
			if name == "help" || name == "version" {
				continue
			}
			if cmd.Flags().Lookup(name) == nil && cmd.InheritedFlags().Lookup(name) == nil {
				t.Errorf("README.md:%d: `%s` takes no %s", i+1, cmd.CommandPath(), f)
			}
		}
	}
}
