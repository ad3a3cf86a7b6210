package fleet

import "testing"

// The upload takes zstd unless the user named a compression, and only
// where Nix's binary cache stores read compression= (not ssh stores).
func TestUploadURLChoosesZstdOnlyWhereTheUserDidNot(t *testing.T) {
	for in, want := range map[string]string{
		"file:///srv/cache":                         "file:///srv/cache?compression=zstd",
		"file:///srv/cache?secret-key=/k.sk":        "file:///srv/cache?secret-key=/k.sk&compression=zstd",
		"http://cache:5000":                         "http://cache:5000?compression=zstd",
		"s3://bucket?region=eu-west-1":              "s3://bucket?region=eu-west-1&compression=zstd",
		"file:///srv/cache?compression=xz":          "file:///srv/cache?compression=xz",
		"https://c/x?compression=none&secret-key=k": "https://c/x?compression=none&secret-key=k",
		"ssh://cache-host":                          "ssh://cache-host",
		"ssh-ng://cache-host?remote-store=/x":       "ssh-ng://cache-host?remote-store=/x",
	} {
		if got := uploadURL(in); got != want {
			t.Errorf("uploadURL(%q) = %q, want %q", in, got, want)
		}
	}
}
