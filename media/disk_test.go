package media

import "testing"

func TestHumanSizes(t *testing.T) {
	cases := []struct {
		got, want string
	}{
		{HumanBytes(30_752_636_928), "30.8 GB"},
		{HumanBytes(999), "999 B"},
		{HumanBytes(64_000_000_000), "64.0 GB"},
		{HumanIEC(96 << 20), "96.0 MiB"},
		{HumanIEC(1023), "1023 B"},
		{HumanIEC(3 << 40), "3.0 TiB"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
