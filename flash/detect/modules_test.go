package detect_test

import (
	"regexp"
	"testing"

	"github.com/jetup/jetup/assets"
	"github.com/jetup/jetup/flash/detect"
	"github.com/jetup/jetup/profiles"
)

// Every recovery id of the issue (research/jetpack.md 2.1 and 2.2) is in
// the table with its mode and som.
func TestModuleTableHasEveryID(t *testing.T) {
	want := map[string]string{ // id -> som ("" where jetpack-nixos has none)
		"0955:7023": "orin-agx", "0955:7223": "orin-agx", "0955:7323": "orin-nx", "0955:7423": "orin-nx",
		"0955:7523": "orin-nano", "0955:7623": "orin-nano", "0955:7019": "xavier-agx",
		"0955:7819": "xavier-agx-industrial", "0955:7919": "xavier-agx-industrial", "0955:7e19": "xavier-nx",
		"0955:7c18": "", "0955:7418": "", "0955:7018": "", "0955:7f21": "", "0955:7721": "",
		"0955:7026": "thor-agx", "0955:7226": "thor-agx", "0955:7326": "thor-agx",
	}
	for id, som := range want {
		m, ok := detect.ModuleByID(id)
		if !ok || m.Mode != detect.Recovery || m.SoM != som || m.Name == "" {
			t.Errorf("%s: %+v (found %v), want recovery som %q", id, m, ok, som)
		}
		if som != "" && (len(m.Fits) == 0 || m.Fits[0] != som || m.CannotTell == "") {
			t.Errorf("%s: fits %v, cannot tell %q", id, m.Fits, m.CannotTell)
		}
	}
	others := map[string]detect.Mode{"0955:7020": detect.BootedL4T, "0955:7045": detect.DebugMCU, "1d6b:0104": detect.FlashGadget}
	for id, mode := range others {
		if m, ok := detect.ModuleByID(id); !ok || m.Mode != mode {
			t.Errorf("%s: %+v, want mode %s", id, m, mode)
		}
	}
	idRe := regexp.MustCompile(`^[0-9a-f]{4}:[0-9a-f]{4}$`)
	seen := map[string]bool{}
	for _, m := range detect.Modules {
		if !idRe.MatchString(m.ID) {
			t.Errorf("bad id %q", m.ID)
		}
		if seen[m.ID] {
			t.Errorf("%s listed twice", m.ID)
		}
		seen[m.ID] = true
	}
}

// The table and the profiles agree: every recovery id a profile lists is in
// the table as a recovery id that fits the profile's som, and every som the
// table names has a profile.
func TestModuleTableMatchesProfiles(t *testing.T) {
	set, errs := profiles.Load(assets.Profiles(), "")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	soms := map[string]bool{}
	for _, p := range set.All() {
		soms[p.SoM] = true
		if p.Recovery == nil {
			continue
		}
		for _, u := range p.Recovery.USBIDs {
			m, ok := detect.ModuleByID(u.ID)
			if !ok || m.Mode != detect.Recovery {
				t.Errorf("%s: recovery id %s is not a recovery id in the module table", p.Name, u.ID)
				continue
			}
			if !m.FitsSoM(p.SoM) {
				t.Errorf("%s: id %s fits %v in the table, not the profile's som %s", p.Name, u.ID, m.Fits, p.SoM)
			}
		}
	}
	for _, m := range detect.Modules {
		for _, s := range m.Fits {
			if !soms[s] {
				t.Errorf("%s: som %s has no profile", m.ID, s)
			}
		}
	}
}

// 1d6b:0104 is every Linux composite gadget: only NixOS/serial is the
// jetpack-nixos flash gadget.
func TestGenericGadgetIDNeedsTheStrings(t *testing.T) {
	r := detect.Record{Bus: 1, Dev: 9, Path: "3", Vendor: 0x1d6b, Product: 0x0104}
	if _, ok := detect.Lookup(r); ok {
		t.Error("1d6b:0104 without strings must not be named")
	}
	r.Manufacturer, r.ProductName = "NixOS", "serial"
	if m, ok := detect.Lookup(r); !ok || m.Mode != detect.FlashGadget {
		t.Errorf("NixOS serial gadget: %+v %v", m, ok)
	}
	r.Manufacturer = "Raspberry Pi"
	if _, ok := detect.Lookup(r); ok {
		t.Error("another vendor's gadget is not a Jetson")
	}
}
