package bot

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeGroups struct {
	members map[string][]string
	fail    atomic.Bool
	calls   atomic.Int32
	gate    chan struct{}
}

func (f *fakeGroups) GetUserGroupMembersContext(ctx context.Context, group string, _ ...slack.GetUserGroupMembersOption) ([]string, error) {
	f.calls.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done(): // as slack-go's call does
			return nil, ctx.Err()
		}
	}
	if f.fail.Load() {
		return nil, errors.New("internal_error")
	}
	return f.members[group], nil
}

func TestGroupResolver(t *testing.T) {
	t.Parallel()
	t.Run("ReturnsOnlyGroupsTheUserIsIn", func(t *testing.T) {
		t.Parallel()
		f := &fakeGroups{members: map[string][]string{"S1": {"U1", "U2"}, "S2": {"U3"}}}
		g := NewGroupResolver(f, time.Minute)
		in, err := g.GroupsOf(context.Background(), "U1", []string{"S1", "S2"})
		require.NoError(t, err)
		assert.Equal(t, []string{"S1"}, in)
	})
	t.Run("FailsClosedOnLookupError", func(t *testing.T) {
		t.Parallel()
		f := &fakeGroups{members: map[string][]string{"S1": {"U1"}}}
		f.fail.Store(true)
		_, err := NewGroupResolver(f, time.Minute).GroupsOf(context.Background(), "U1", []string{"S1"})
		require.Error(t, err, "a failed lookup must refuse, never guess")
		assert.Contains(t, err.Error(), "S1")
	})
	t.Run("CachesWithinTTLAndRefreshesAfter", func(t *testing.T) {
		t.Parallel()
		f := &fakeGroups{members: map[string][]string{"S1": {"U1"}}}
		g := NewGroupResolver(f, time.Minute)
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		g.now = func() time.Time { return now }
		for range 3 {
			_, err := g.GroupsOf(context.Background(), "U1", []string{"S1"})
			require.NoError(t, err)
		}
		assert.Equal(t, int32(1), f.calls.Load())
		now = now.Add(2 * time.Minute)
		f.members["S1"] = nil // U1 left the group
		in, err := g.GroupsOf(context.Background(), "U1", []string{"S1"})
		require.NoError(t, err)
		assert.Empty(t, in, "membership changes are seen after the TTL")
	})
	t.Run("ConcurrentLookupsShareOneCall", func(t *testing.T) {
		t.Parallel()
		f := &fakeGroups{members: map[string][]string{"S1": {"U1"}}, gate: make(chan struct{})}
		g := NewGroupResolver(f, time.Minute)
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := g.GroupsOf(context.Background(), "U1", []string{"S1"})
				assert.NoError(t, err)
			}()
		}
		time.Sleep(50 * time.Millisecond)
		close(f.gate)
		wg.Wait()
		assert.LessOrEqual(t, f.calls.Load(), int32(2))
	})
	t.Run("OneCallersDeadlineDoesNotFailTheOthers", func(t *testing.T) {
		// A type-ahead answer has 2 s to decide; a slash command waiting on the same lookup
		// has its whole budget. When Slack is slow (a rate limit's Retry-After), the first
		// caller's deadline must not turn the others' shared lookup into a refusal.
		t.Parallel()
		f := &fakeGroups{members: map[string][]string{"S1": {"U1"}}, gate: make(chan struct{})}
		g := NewGroupResolver(f, time.Minute)
		hurried, cancel := context.WithCancel(context.Background())
		defer cancel()
		first := make(chan error, 1)
		go func() {
			_, err := g.GroupsOf(hurried, "U1", []string{"S1"})
			first <- err
		}()
		require.Eventually(t, func() bool { return f.calls.Load() == 1 }, 5*time.Second, time.Millisecond)
		second := make(chan error, 1)
		var in []string
		go func() {
			var err error
			in, err = g.GroupsOf(context.Background(), "U1", []string{"S1"})
			second <- err
		}()
		time.Sleep(50 * time.Millisecond) // the second caller joins the lookup under way
		cancel()                          // the first caller's deadline
		assert.ErrorIs(t, <-first, context.Canceled, "the hurried caller gives up on time")
		close(f.gate) // Slack answers after the first caller's deadline
		require.NoError(t, <-second, "the other caller was refused for the first one's deadline")
		assert.Equal(t, []string{"S1"}, in)
		assert.Equal(t, int32(1), f.calls.Load())
	})
}
