package disk

import "time"

// sleepPastSecond makes a second build start in a later FAT two-second
// tick, so leftover time.Now() stamps would show.
func sleepPastSecond() { time.Sleep(2100 * time.Millisecond) }
