// Package safe holds the three rules jetup applies to everything that comes
// from outside it: which directories it may keep state in (Dir), which
// names may become a path (Name), and what text may reach a terminal
// (Text). Each rule is here once, so every caller gets the same answer.
package safe
