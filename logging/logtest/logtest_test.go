package logtest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBufferKeepsConcurrentLinesWhole(t *testing.T) {
	t.Parallel()
	var b Buffer
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() { fmt.Fprintf(&b, "{\"n\":%d}\n", i) })
	}
	wg.Wait()
	_, _ = b.Write([]byte("not json\npartial"))
	assert.Len(t, b.Lines(), 21, "complete lines only")
	assert.Len(t, b.JSONLines(), 20)
	assert.Nil(t, (&Buffer{}).Lines())
}
