//go:build race

package rxstamp

// raceEnabled: see syncWithWriters (Linux).
const raceEnabled = true
