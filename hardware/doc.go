// Package hardware names the hardware edges jetup touches: the things a
// test or the demo must be able to put a simulated part in place of.
// cmd/jetup is the only place that decides whether the Edges are the real
// machine (Real) or the simulated bench (sim.Hardware); the TUI and the
// headless commands only take what they need from it.
//
// Each edge is a small interface owned by the domain package that uses it;
// a step issue adds its field here and fills it in Real and in sim.
//
// # In detail
//
// hardware: the set of hardware edges (`Edges`): a runner, the doctor
// host, and one field per step's edge (`Push`: deploy.Edge, `Verify`:
// verify.Edge). `hardware.Real()` is the machine; `sim.Hardware()` the
// simulated bench. Imports the domain packages for their interface types.
// (Named `bench` until issue 13: that word now means the bench of boards a
// technician works through, and it never meant benchmarks.)
package hardware
