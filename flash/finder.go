package flash

import (
	"context"

	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/step"
)

// USBFinder finds boards in recovery mode on a USB bus with the detect
// step's scan, so `jetup flash`, the wizard and `jetup detect` agree on
// what is a board, its module and what is wrong with it (a full-speed link,
// no access to the node, another module than the profile's: those become
// warnings when the board is chosen).
func USBFinder(l detect.Lister, opt detect.Options) BoardFinder {
	return FinderFunc(func(ctx context.Context) ([]Board, error) {
		devs, err := detect.Scan(ctx, l, opt, step.Discard)
		if err != nil {
			return nil, err
		}
		var out []Board
		for _, d := range detect.Boards(devs) {
			b := Board{USBInstance: d.USBInstance, ID: d.ID(), Module: d.Module}
			for _, w := range d.Warnings {
				if w.ID == detect.WarnSeveral {
					continue // the flash step says that itself, with what to do
				}
				b.Warnings = append(b.Warnings, BoardWarning{ID: w.ID, Warning: w.Warning, Next: w.Next})
			}
			out = append(out, b)
		}
		return out, nil
	})
}
