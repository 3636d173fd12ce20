package compose

import (
	"encoding/hex"
	"fmt"
	"runtime/debug"

	"github.com/usbkit/compose/bootloader"
	"github.com/usbkit/compose/compose/converge"
	"github.com/usbkit/compose/compose/disk"
	"github.com/usbkit/compose/config"
)

func composeVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(unknown)"
}

// state builds the record for the layout lay (grub.cfg included), for a
// ready plan.
func (p *Plan) state(m *config.Manifest, l *config.Lock, lay disk.Layout, stickID string, seed [32]byte) ([]byte, error) {
	st := converge.KitState{Format: converge.StateFormat, Compose: composeVersion(), Kit: hex.EncodeToString(seed[:]), StickID: stickID,
		Storage: string(m.Storage), Firmware: p.Firmware}
	if p.spec.BIOSBoot != nil {
		st.SetBIOSBoot(p.spec.BIOSBoot, p.spec.BootCode)
	}
	isos := map[string]int{}
	for i := range m.ISOs {
		isos[p.Entries[i].ISOPath] = i
	}
	for _, part := range lay.Partitions {
		if part.Persistence != "" { // where it is, never what it holds: the user's data
			st.Partitions = append(st.Partitions, p.statePersistence(part))
			continue
		}
		st.Partitions = append(st.Partitions, converge.StatePartition{Index: part.Index, FS: part.FS})
		for _, f := range part.Files {
			if f.Path == converge.StatePath || part.Type == disk.TypeBasicData { // a Windows partition's: its id file on the ESP stands for them
				continue
			}
			if i, ok := isos[f.Path]; ok && f.Source != "" {
				e := l.ISO(m.ISOs[i].Name)
				s, err := converge.SampleFile(f.Source, f.Size)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", m.ISOs[i].Name, err)
				}
				st.ISOs = append(st.ISOs, converge.StateISO{Name: m.ISOs[i].Name, Path: f.Path, Partition: part.Index, Size: f.Size,
					Algorithm: e.Algorithm, Digest: e.Digest, Sample: s})
				continue
			}
			st.Files = append(st.Files, converge.RecordFile(f.Path, part.Index, f.Data))
		}
	}
	p.desired = &st
	return st.Encode()
}

// interim renders a two-step apply's first menu and state record: the
// planned ones without the entries and ISOs d.Interim says are missing.
func (p *Plan) interim(d *converge.Diff) (menu, state []byte, err error) {
	missing := map[string]bool{}
	for _, name := range d.Interim.Missing {
		missing[name] = true
	}
	if menu, err = p.renderMenu(func(e bootloader.Entry) bool { return !missing[e.ID] }); err != nil {
		return nil, nil, err
	}
	state, err = p.desired.InterimRecord(missing, menu)
	return menu, state, err
}
