package assets

import (
	"embed"
	"io/fs"
)

//go:embed profiles/*.yaml udev/*.rules transcripts
var files embed.FS

// Profiles is the embedded profile directory (*.yaml at its root).
func Profiles() fs.FS {
	sub, err := fs.Sub(files, "profiles")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// Transcripts are real logs (flash/*.txt, serial/*.txt) from the tools and
// boards jetup drives, each naming its source on top; "#" lines are
// annotations, not output. Tests check the classifiers against them and the
// simulated bench replays them.
func Transcripts() fs.FS {
	sub, err := fs.Sub(files, "transcripts")
	if err != nil {
		panic(err)
	}
	return sub
}

// UdevRuleName is the file name the udev rule is installed under.
const UdevRuleName = "70-jetup.rules"

// UdevRule is the content of the udev rule.
func UdevRule() []byte {
	b, err := files.ReadFile("udev/" + UdevRuleName)
	if err != nil {
		panic(err)
	}
	return b
}
