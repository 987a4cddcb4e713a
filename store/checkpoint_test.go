package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Commits leave checkpoints to the checkpointer's own connection: they checkpoint by themselves
// only past sqliteCommitCheckpointPages, and the WAL is copied back in the background.
func TestSQLiteCheckpointsOffTheWritersPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, "sqlite://"+filepath.Join(t.TempDir(), "store.db"))
	require.NoError(t, err)
	defer s.Close()
	require.NotNil(t, s.checkpointer)

	var pages int
	require.NoError(t, s.db.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages))
	assert.Equal(t, sqliteCommitCheckpointPages, pages, "commits would otherwise checkpoint every 1,000 pages")

	for i := range 50 {
		_, err := s.SaveEnvelope(ctx, fmt.Sprintf("env-%03d", i), "slash_commands", []byte(`{}`), "owner", time.Minute, time.Now())
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return s.checkpointer.complete.Load() > 0 }, 10*time.Second, 20*time.Millisecond,
		"the checkpointer copies the WAL back once commits stop")
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "closing twice is harmless")
}

func TestSQLiteCheckpointingStaysSQLitesWhereTheURLAsks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		url   string
		pages int
	}{
		{"file:" + filepath.Join(t.TempDir(), "own.db") + "?_pragma=wal_autocheckpoint(500)", 500},
		{"sqlite://:memory:", 0}, // no WAL to checkpoint
	} {
		s, err := Open(ctx, tc.url)
		require.NoError(t, err, tc.url)
		assert.Nil(t, s.checkpointer, tc.url)
		if tc.pages > 0 {
			var pages int
			require.NoError(t, s.db.QueryRowContext(ctx, "PRAGMA wal_autocheckpoint").Scan(&pages))
			assert.Equal(t, tc.pages, pages, tc.url)
		}
		require.NoError(t, s.Close())
	}
}
