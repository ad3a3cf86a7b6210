package sim

import (
	"os"
	"strconv"
	"time"
)

// SpeedEnv sets how many times faster than real time the whole simulated
// bench runs (the board entering recovery, the flash, the stick, the boot on
// the console, the push). 1, the default, is realistic pacing for a demo;
// tests and impatient viewers use more. `jetup --sim-speed N` sets it.
const SpeedEnv = "JETUP_SIM_SPEED"

// Speed is SpeedEnv's value, 1 when unset or not a positive number.
func Speed() float64 {
	if v, err := strconv.ParseFloat(os.Getenv(SpeedEnv), 64); err == nil && v > 0 {
		return v
	}
	return 1
}

// scaled is d at the bench's speed.
func scaled(d time.Duration) time.Duration { return time.Duration(float64(d) / Speed()) }
