package astro

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequestLogNamesEveryAstroAnswer(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", fmt.Sprintf("req-%d", n.Add(1)))
		if r.URL.Path == "/v1/organizations/org/tokens/missing" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"message":"not found","requestId":"req-body","statusCode":404}`))
			return
		}
		_, _ = w.Write([]byte(`{"id":"t1","name":"n","type":"ORGANIZATION"}`))
	}))
	t.Cleanup(srv.Close)
	c := New("org", "secret", WithBaseURL(srv.URL+"/v1"))

	ctx, ids := WithRequestLog(context.Background())
	_, err := c.GetToken(ctx, "t1")
	require.NoError(t, err)
	_, err = c.GetToken(ctx, "missing")
	require.Error(t, err)
	assert.Equal(t, []string{"req-1", "req-2"}, ids(), "successes and failures are both named")

	_, err = c.GetToken(context.Background(), "t1")
	require.NoError(t, err)
	assert.Len(t, ids(), 2, "only calls made with the context are noted")
}

func TestNoteRequestIDsAddsWhatTheLogDoesNotName(t *testing.T) {
	t.Parallel()
	ctx, ids := WithRequestLog(context.Background())
	recordRequestID(ctx, "req-own")
	NoteRequestIDs(ctx, "req-shared", "req-own", "", "req-shared")
	assert.Equal(t, []string{"req-own", "req-shared"}, ids(), "each ID once, in order")
	NoteRequestIDs(context.Background(), "req-x") // no log: nothing to do, no panic
}
