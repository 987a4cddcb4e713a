package astroemu

import (
	"strconv"
	"strings"
)

// fmtID renders a cuid-shaped ID (25 lowercase base-36 characters) from a prefix and a number.
func fmtID(prefix string, n uint64) string {
	digits := strconv.FormatUint(n, 36)
	pad := 25 - len(prefix) - len(digits)
	if pad < 0 {
		pad = 0
	}
	return prefix + strings.Repeat("0", pad) + digits
}
