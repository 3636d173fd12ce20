package main

import (
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/usbkit/compose/compose"
)

// printWindows shows each Windows entry's partition: its size, what it
// holds, the split of an install.wim over FAT32's limit, and the editions.
func printWindows(tw io.Writer, ws []compose.WindowsPlan) {
	if len(ws) == 0 {
		return
	}
	printf(tw, "\nwindows partitions:\n")
	for _, w := range ws {
		var eds []string
		for _, e := range w.Editions {
			eds = append(eds, e.Name)
		}
		printf(tw, "  %s\tpartition %d\t%s\t%s\t%d files, %s from the ISO\teditions: %s\n", w.Entry, w.Partition, w.Label,
			humanSize(w.Size), w.Files, humanSize(w.Bytes), strings.Join(eds, "; "))
		if w.Unattend != "" {
			printf(tw, "  \tanswer file\t%s, at the partition's root as /autounattend.xml\n", w.Unattend)
		}
		if s := w.Split; s != nil {
			var parts []string
			for i, p := range s.Parts {
				parts = append(parts, fmt.Sprintf("%s %s", path.Base(p), humanSize(s.Sizes[i])))
			}
			printf(tw, "  \t%s\t%s, over FAT32's 4 GiB: split into %s\n", path.Base(s.Source), humanSize(s.Size), strings.Join(parts, ", "))
		}
	}
}
