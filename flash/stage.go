package flash

// Stage is a phase of a flash run. The ids are an interface (--json output,
// run records, `jetup diagnose`): keep them stable.
type Stage string

// The stages in the order a run reaches them. The legacy flash.sh, NVIDIA's
// l4t_initrd_flash and OE4T's initrd-flash map onto the same list where they
// have the phase.
const (
	StageNone       Stage = ""
	StageStart      Stage = "start"       // flash.sh banner: the script has started
	StageProbe      Stage = "probe"       // tegraflash reads the board's EEPROM over USB
	StageRCMBoot    Stage = "rcm-boot"    // tegraflash sends MB1/MB2/UEFI/kernel ([ t.tttt ] lines)
	StageWaitDevice Stage = "wait-device" // waiting for the flash initrd's USB gadget
	StageFlashing   Stage = "flashing"    // the device writes its boot flash (Step N/M)
	StageSuccess    Stage = "success"     // the device (or flash.sh) reported success
)

// Stages lists every stage after StageNone, in order.
var Stages = []Stage{StageStart, StageProbe, StageRCMBoot, StageWaitDevice, StageFlashing, StageSuccess}

// Index is the stage's position: 0 for StageNone, 1 for StageStart, ...
func (s Stage) Index() int {
	for i, st := range Stages {
		if st == s {
			return i + 1
		}
	}
	return 0
}

// Title is what the checklist shows.
func (s Stage) Title() string {
	switch s {
	case StageStart:
		return "Start the flash script"
	case StageProbe:
		return "Probe the board"
	case StageRCMBoot:
		return "RCM boot over USB"
	case StageWaitDevice:
		return "Wait for the device"
	case StageFlashing:
		return "Write the boot firmware"
	case StageSuccess:
		return "Done"
	}
	return "Not started"
}
