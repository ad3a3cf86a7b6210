package testkit

// NixConfig is how tests run the real Nix on the build machines: a
// single-user root store (no nixbld group), no sandbox, no network for
// the binary caches. Every test that runs nix sets it (NIX_CONFIG), so a
// build machine's setting cannot make one test differ from another.
const NixConfig = "build-users-group =\nsandbox = false\nsubstituters ="

// NixEnv is NixConfig as an environment entry, for a command's Env or
// nixrun.Nix's.
var NixEnv = []string{"NIX_CONFIG=" + NixConfig}
