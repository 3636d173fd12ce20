package main

import (
	"slices"
	"testing"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/config"
)

// The manifest lets persistence: through on an explicit boot: exactly for the families
// the bootloader has a contract for (config cannot import bootloader; this test holds
// both).
func TestPersistentFamiliesAgree(t *testing.T) {
	for _, f := range config.BootFamilies {
		d := bootloader.Detection{Family: bootloader.Family(f), Kernel: "/k"}
		_, err := bootloader.AssignPersistence([]bootloader.PersistRequest{{ID: "a", Boot: d}})
		if inConfig := slices.Contains(config.PersistentFamilies, f); inConfig != (err == nil) {
			t.Errorf("boot: %s: config accepts persistence: %v, bootloader: %v", f, inConfig, err)
		}
	}
}
