// Package wim reads Windows Imaging (WIM) files and splits one into SWM
// parts small enough for FAT32, in Go, with no external tool.
//
// ReadInfo reads a WIM's (or one SWM part's) 208-byte header and its XML
// data (UTF-16LE): compression kind, solid (ESD) or not, part number and
// total parts, GUID, and per image its index, names, edition, architecture,
// sizes and file counts. Its input is hostile: every offset is checked
// against the file's size, at most HeaderSize + MaxXMLSize bytes are read,
// and bad input is an error wrapping ErrNotWIM or ErrMalformed, never a
// panic.
//
// It reads and writes nothing else and prints nothing.
package wim
