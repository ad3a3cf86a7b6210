package verify

import "github.com/jetup/jetup/step"

func nextOf(err error) string { return step.NextOf(err) }
