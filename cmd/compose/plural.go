package main

import "github.com/usbkit/compose/config/plural"

// count is n and noun in the number n takes ("1 ISO", "2 ISOs"): every
// count in the CLI's messages goes through it (config/plural).
func count(n int, noun string) string { return plural.Count(n, noun) }
