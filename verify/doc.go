// Package verify proves a board works after the push: it runs the pushed
// system, no unit failed, the Jetson's GPU is there, a CUDA sample runs,
// containers get the GPU through CDI, and, where k3s runs, the node is
// Ready and offers nvidia.com/gpu to pods. Each check gives a status (ok,
// warn, fail, not-enabled), a detail and, unless ok, what to do next.
//
// Everything runs in one ssh session to the board (its host key pinned as
// push pins it): a board shell (script.go) prints every probe as a
// delimited section, which jetup reads with bounded reads (frames.go) and
// judges (one file per check). Waiting, for the node to become Ready or a
// workload pod to finish, asks the same shell to re-run only that probe.
//
// # In detail
//
// verify: `Run` proves a booted board works, one check a file
// (booted.go, units.go, gpu.go, cuda.go, container.go, k3s.go, storage.go):
// booted-system, failed-units, jetson-gpu, cuda, container-gpu, k3s-node,
// k3s-gpu, k3s-storage, each a `Check` event with a status (ok, warn, fail,
// not-enabled), a detail and a next step; `Plan` first, `Waiting` while the
// node or a workload pod is awaited, `Result` last (its `ExitCode`: 2 when a
// check failed on bad input, 1 on any other failure). Its edge is remote's
// `Dialer`; `remote.Connect` trusts the board's key as push does. One
// session runs the board shell (script.go): every probe is a section between
// marker lines carrying a random token, `done CHECK` lets a check be judged
// as soon as its sections are in, then the shell takes commands on stdin
// (`node`, `cuda`, `container`, `create`/`pod`/`logs`/`delete` for the
// workload), so waiting re-runs only the node probe. frames.go reads it with
// bounded reads (64 KiB lines, 4 MiB sections, drained to the end) and logs
// every byte (verify.log). Kubernetes Node and Pod are small typed structs
// (kube.go; k8s.io/api would add 4.6 MB), CDI specs use the CDI project's
// specs-go types. The GPU device nodes per SoC come from the profiles
// (`verify:`); the expected system from `--closure` or the newest successful
// push to the same host key in the run records. Imports `step`, `runrec`,
// `remote`.
package verify
