package main

import (
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/jetup/jetup/flash"
	"github.com/jetup/jetup/runrec"
	"github.com/jetup/jetup/safe"
	"github.com/jetup/jetup/step"
)

// diagnosis is `jetup diagnose --json`: the verdict and the file judged.
type diagnosis struct {
	File string `json:"file"`
	flash.Verdict
}

func (a *app) diagnoseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "diagnose FILE",
		Short: "Explain a saved flash log: outcome, stage reached, cause and next step",
		Long: `Judge a saved flash log with the same classifier as jetup flash: jetup's own
run record log, the output of a jetpack-nixos, NVIDIA flash.sh or
l4t_initrd_flash, or OE4T initrd-flash run, or a paste from a forum. FILE may be
"-" for stdin, or a run directory (the last flash log in its run.json).

--json prints outcome, stage (the last one reached), cause, hint and evidence
(the lines that decided it, with their line numbers).

Exit status: 0 when the log could be read (whatever it says), 2 when not.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			path, log, err := openFlashLog(args[0])
			if err != nil {
				return err
			}
			defer log.Close()
			// Streamed: the classifier keeps its verdict, not the log, so a
			// log of any size costs the same memory.
			v, err := flash.Classify(log)
			if err != nil {
				return step.Refuse("no-log", "pass the path of a saved flash log (or - for stdin)", "cannot read %s: %v", path, err)
			}
			if a.json {
				return writeJSON(a.stdout, diagnosis{File: path, Verdict: v})
			}
			printVerdict(a.stdout, v, "")
			return nil
		},
	}
}

// openFlashLog opens FILE, stdin for "-", or the last flash log of a run
// directory.
func openFlashLog(arg string) (string, io.ReadCloser, error) {
	if arg == "-" {
		return "-", io.NopCloser(os.Stdin), nil
	}
	if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
		rec, err := runrec.Load(arg)
		if err != nil {
			return "", nil, step.Refuse("no-log", "pass a log file, or a run directory with a flash step", "%s: %v", arg, err)
		}
		last := ""
		for _, s := range rec.Steps {
			for _, l := range s.Logs {
				if s.Step == step.Flash && filepath.Ext(l) == ".log" && !isBuildLog(l) {
					last = l
				}
			}
		}
		if last == "" {
			return "", nil, step.Refuse("no-log", "pass a run directory with a flash step, or the log file itself", "%s has no flash log", arg)
		}
		// The name comes from run.json: a file inside the run, never a path.
		if err := safe.Name("log file", last); err != nil {
			return "", nil, step.Refuse("no-log", "pass the log file itself", "%s: %v", arg, err)
		}
		arg = filepath.Join(arg, last)
	}
	f, err := os.Open(arg)
	if err != nil {
		return "", nil, step.Refuse("no-log", "pass the path of a saved flash log (or - for stdin)", "cannot read %s: %v", arg, err)
	}
	return arg, f, nil
}

func isBuildLog(name string) bool {
	return len(name) > len(".build.log") && name[len(name)-len(".build.log"):] == ".build.log"
}
