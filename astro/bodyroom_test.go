package astro

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
)

// An answer whose length the server declared is read without growing the buffer made for it:
// growing copies the whole body into one twice its size.
func TestAnAnswerFitsTheRoomMadeForIt(t *testing.T) {
	for _, n := range []int64{0, 1, 700, 4096, 64 << 10, 600_000} {
		body := bytes.Repeat([]byte("x"), int(n))
		fresh := bytes.NewBuffer(make([]byte, 0, bodyRoom(n)))
		room := fresh.Cap()
		_, err := fresh.ReadFrom(io.LimitReader(bytes.NewReader(body), maxSuccessBody))
		assert.NoError(t, err)
		assert.Equal(t, room, fresh.Cap(), "fresh buffer, %d bytes", n)

		pooled := getBodyBuffer(n)
		room = pooled.Cap()
		_, err = pooled.ReadFrom(io.LimitReader(bytes.NewReader(body), maxSuccessBody))
		assert.NoError(t, err)
		assert.Equal(t, room, pooled.Cap(), "pooled buffer, %d bytes", n)
		assert.Equal(t, body, pooled.Bytes())
		putBodyBuffer(pooled)
	}
	assert.Zero(t, bodyRoom(-1), "an unknown length makes no room ahead")
	assert.Zero(t, bodyRoom(maxSuccessBody+1), "nor does one past the bound")
}
