package reply_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orgtoken/orgtoken-bot/reply"
)

func TestCount(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 2000: "2,000", 1234567: "1,234,567", -4500: "-4,500"} {
		assert.Equal(t, want, reply.Count(n))
	}
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "abc", reply.Truncate("abc", 3))
	assert.Equal(t, "ab…", reply.Truncate("abcd", 3))
	assert.Equal(t, "é…", reply.Truncate("éééé", 2))
	assert.Equal(t, "", reply.Truncate("abc", 0))
}

func TestRange(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "", (&reply.Table{Rows: make([][]string, 3), Total: 3}).Range())
	assert.Equal(t, "Showing 26–50 of 2,000", (&reply.Table{Rows: make([][]string, 25), Offset: 25, Total: 2000}).Range())
}

func TestValidIDs(t *testing.T) {
	t.Parallel()
	assert.True(t, reply.ValidUserID("U0123ABC"))
	assert.True(t, reply.ValidUserID("W0123ABC"))
	assert.False(t, reply.ValidUserID("<!channel>"))
	assert.False(t, reply.ValidUserID("u0123abc"))
	assert.True(t, reply.ValidChannelID("C0123ABC"))
	assert.False(t, reply.ValidChannelID("C01|x"))
}
