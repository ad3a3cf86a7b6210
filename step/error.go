package step

import (
	"errors"
	"fmt"
)

// Exit codes shared by the headless commands. A command may define more
// (flash uses 3 for cancelled or timed out); these are the common ones.
const (
	ExitOK      = 0
	ExitFailed  = 1
	ExitRefused = 2 // refused before touching anything (bad input, safety rule, no board)
)

// Error is a failure the person can act on: what happened, what to do next,
// and a machine-readable cause id. Commands map it to an exit code.
type Error struct {
	// Cause is a stable id ("no-recovery-device", "system-disk", ...).
	Cause string
	// What says what happened, in plain words.
	What string
	// Next says what the person should do now. Never empty for errors a
	// person can meet.
	Next string
	// Code is the process exit code for headless commands (0 means 1).
	Code int
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil && e.What == "" {
		return e.Err.Error()
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.What, e.Err)
	}
	return e.What
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode returns the code a command should exit with.
func (e *Error) ExitCode() int {
	if e.Code == 0 {
		return ExitFailed
	}
	return e.Code
}

// Errorf builds an *Error with a cause, a next step and a formatted message.
func Errorf(cause, next string, format string, args ...any) *Error {
	return &Error{Cause: cause, Next: next, What: fmt.Sprintf(format, args...)}
}

// Refuse builds an *Error with ExitRefused: the step stopped before it
// touched anything.
func Refuse(cause, next string, format string, args ...any) *Error {
	e := Errorf(cause, next, format, args...)
	e.Code = ExitRefused
	return e
}

// ExitCodeOf maps any error to a process exit code: nil is 0, an *Error (or
// anything with an ExitCode method) in the chain gives its own code, any
// other error gives 1.
func ExitCodeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	var coder interface{ ExitCode() int }
	if errors.As(err, &coder) {
		return coder.ExitCode()
	}
	return ExitFailed
}

// NextOf returns the next-step hint carried by err, or "".
func NextOf(err error) string {
	var se *Error
	if errors.As(err, &se) {
		return se.Next
	}
	return ""
}
