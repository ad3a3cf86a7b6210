package runrec

import (
	"net/url"
	"strings"
)

// run.json keeps the command line so a run can be repeated, but not the
// secrets on it: the text `console --send` types (a password at a login
// prompt) and the credentials a flake or image URL may carry
// (git+https://user:TOKEN@host/..., ?access_token=...). Host key
// fingerprints, paths and board addresses are not secrets and stay.

// Redacted replaces a value that was removed from the record.
const Redacted = "<redacted>"

// secretFlags take a value that is never recorded.
var secretFlags = []string{"--send"}

// RedactCommand returns args with every secret value replaced by Redacted.
func RedactCommand(args []string) []string {
	out := make([]string, len(args))
	hideNext := false
	for i, a := range args {
		if hideNext {
			out[i], hideNext = Redacted, false
			continue
		}
		name, _, hasValue := strings.Cut(a, "=")
		if isSecretFlag(name) {
			if hasValue {
				out[i] = name + "=" + Redacted
			} else {
				out[i], hideNext = a, true
			}
			continue
		}
		out[i] = redactURLs(a)
	}
	return out
}

func isSecretFlag(name string) bool {
	for _, f := range secretFlags {
		if name == f {
			return true
		}
	}
	return false
}

// secretQuery are URL query keys whose values are credentials.
var secretQuery = []string{"access_token", "token", "private_token", "password", "secret"}

// redactURLs hides a URL's password and credential query values wherever
// a "scheme://" appears in s (a flag's value, "REF#ATTR", "--flag=URL").
func redactURLs(s string) string {
	i := strings.Index(s, "://")
	if i < 0 {
		return s
	}
	start := strings.LastIndexAny(s[:i], "= ") + 1
	end := len(s)
	if j := strings.IndexAny(s[i:], " #"); j >= 0 {
		end = i + j
	}
	u, err := url.Parse(s[start:end])
	if err != nil {
		return s[:start] + Redacted + s[end:]
	}
	changed := false
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
		changed = true
	}
	q := u.Query()
	for k := range q {
		for _, sk := range secretQuery {
			if strings.EqualFold(k, sk) {
				q.Set(k, "REDACTED")
				changed = true
			}
		}
	}
	if !changed {
		return s[:end] + redactURLs(s[end:])
	}
	u.RawQuery = q.Encode()
	return s[:start] + u.String() + redactURLs(s[end:])
}
