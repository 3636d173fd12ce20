package isoimage

import (
	"context"
	"fmt"
	"slices"

	"github.com/usbkit/compose/bootloader"
)

// PersistenceReport is the storage and arguments an entry of this ISO gets from
// `persistence:` in a manifest, as `compose inspect --persistence` shows them.
type PersistenceReport struct {
	Entry         string   `json:"entry"` // the manifest name the label derives from
	Size          int64    `json:"size"`  // bytes
	Filesystem    string   `json:"filesystem"`
	Label         string   `json:"label"`
	PartitionName string   `json:"partition_name"`
	Args          []string `json:"args"`            // added to the entry's kernel line
	Files         []string `json:"files,omitempty"` // written into the fresh filesystem
	Dirs          []string `json:"dirs,omitempty"`  // created empty in it
}

// InspectPersistent is Inspect for an entry called name with size bytes of persistence
// (an ISO's own loopback.cfg is passed over, as plan does): it adds what that entry's
// persistence would be, or fails with the
// *bootloader.PersistenceError of a family without a persistence contract.
func InspectPersistent(ctx context.Context, path, name string, size int64) (*Inspection, error) {
	im, err := Open(ctx, path, path)
	if err != nil {
		return nil, err
	}
	defer im.Close()
	r, err := resolveImage(im, path, bootloader.Overrides{Persistent: true})
	if err != nil {
		return nil, err
	}
	got, err := bootloader.AssignPersistence([]bootloader.PersistRequest{{ID: name, Boot: r.Boot}})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p := got[name]
	rep := &PersistenceReport{Entry: name, Size: size, Filesystem: bootloader.PersistenceFS, Label: p.Label,
		PartitionName: p.Name, Args: slices.Clone(p.Args), Dirs: slices.Clone(p.Dirs)}
	for _, f := range p.Files {
		rep.Files = append(rep.Files, f.Path)
	}
	r.Persistence = rep
	return r, nil
}
