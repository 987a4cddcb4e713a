package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// BenchmarkListPendingReverts is the read every landed change makes of its token's pending
// reverts (to settle the time-boxes it overrides), among 200 pending reverts of other tokens.
func BenchmarkListPendingReverts(b *testing.B) {
	s := benchSQLite(b)
	ctx := context.Background()
	for i := range 200 {
		_, err := s.ScheduleRevert(ctx, newRevertFor(fmt.Sprintf("tok_%d", i), time.Now().Add(time.Hour)))
		require.NoError(b, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.ListPendingReverts(ctx, "tok_none"); err != nil {
			b.Fatal(err)
		}
	}
}

func newRevertFor(tokenID string, due time.Time) Revert {
	return Revert{TokenID: tokenID, TokenName: "n", WorkspaceID: "ws", RevertTo: "WORKSPACE_MEMBER", ExpectedRole: "WORKSPACE_OPERATOR", DueAt: due}
}
