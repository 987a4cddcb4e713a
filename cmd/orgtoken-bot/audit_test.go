package main

import (
	"bytes"
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite"

	"github.com/orgtoken/orgtoken-bot/store"
)

func TestAuditCLI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	st, err := store.Open(ctx, path)
	require.NoError(t, err)
	for i, after := range []string{"WORKSPACE_MEMBER", "WORKSPACE_AUTHOR", "WORKSPACE_OWNER"} {
		_, err := st.AppendAudit(ctx, store.AuditEntry{At: time.Now().Add(time.Duration(i-10) * 24 * time.Hour), ActorID: "U0ADMIN",
			Action: "role.changed", TokenID: "tok1", WorkspaceID: "ws1", After: after})
		require.NoError(t, err)
	}
	require.NoError(t, st.Close())
	env := envconfig.MapLookuper(map[string]string{"ORGTOKEN_DATABASE_URL": path})
	cli := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := run(ctx, append([]string{"audit"}, args...), nil, &out, &errOut, env)
		return code, out.String(), errOut.String()
	}

	code, out, _ := cli("verify")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "3 entries, hash chain intact")

	code, out, _ = cli("export", "--since", "30d")
	assert.Equal(t, 0, code)
	assert.Equal(t, 3, strings.Count(out, "\n"), "one JSON line per entry")
	code, out, _ = cli("export", "--since", "9d")
	assert.Equal(t, 0, code)
	assert.Equal(t, 1, strings.Count(out, "\n"), "--since filters")

	code, _, errOut := cli("export", "--since", "soon")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "is not a duration")

	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(`UPDATE audit_log SET after_value = 'WORKSPACE_MEMBER' WHERE seq = 3`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	code, _, errOut = cli("verify")
	assert.Equal(t, 1, code)
	assert.Contains(t, errOut, "TAMPERED: entry 3")
}
