package bot

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/slack-go/slack"
	"golang.org/x/sync/singleflight"
)

// GroupMembersLister is the Slack Web API call behind group resolution (usergroups.users.list).
type GroupMembersLister interface {
	GetUserGroupMembersContext(ctx context.Context, userGroup string, options ...slack.GetUserGroupMembersOption) ([]string, error)
}

// GroupResolver answers "which of these Slack user groups is this user in", caching each
// group's members briefly. Any lookup failure is returned as an error so that callers refuse
// (fail closed) rather than treat the user as a non-member or a member by accident.
type GroupResolver struct {
	api   GroupMembersLister
	ttl   time.Duration
	now   func() time.Time
	group singleflight.Group

	mu    sync.Mutex
	cache map[string]cachedMembers
}

type cachedMembers struct {
	members map[string]bool
	at      time.Time
}

// NewGroupResolver caches each group's members for ttl (0 disables caching).
func NewGroupResolver(api GroupMembersLister, ttl time.Duration) *GroupResolver {
	return &GroupResolver{api: api, ttl: ttl, now: time.Now, cache: make(map[string]cachedMembers)}
}

// GroupsOf returns the subset of groupIDs that userID belongs to.
func (g *GroupResolver) GroupsOf(ctx context.Context, userID string, groupIDs []string) ([]string, error) {
	var in []string
	for _, id := range groupIDs {
		members, err := g.members(ctx, id)
		if err != nil {
			return nil, err
		}
		if members[userID] {
			in = append(in, id)
		}
	}
	return in, nil
}

func (g *GroupResolver) members(ctx context.Context, groupID string) (map[string]bool, error) {
	g.mu.Lock()
	c, ok := g.cache[groupID]
	g.mu.Unlock()
	if ok && g.now().Sub(c.at) < g.ttl {
		return c.members, nil
	}
	// singleflight: a burst of commands from one team costs one Slack call per group. The call
	// is shared, so it does not end with the caller that happened to start it (a type-ahead
	// answer has 2 s): each caller waits on its own context instead.
	flight := g.group.DoChan(groupID, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupLookupTimeout)
		defer cancel()
		ids, err := g.api.GetUserGroupMembersContext(ctx, groupID)
		if err != nil {
			return nil, fmt.Errorf("looking up members of Slack user group %s: %w", groupID, err)
		}
		m := make(map[string]bool, len(ids))
		for _, id := range ids {
			m[id] = true
		}
		g.mu.Lock()
		g.cache[groupID] = cachedMembers{members: m, at: g.now()}
		g.mu.Unlock()
		return m, nil
	})
	select {
	case res := <-flight:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(map[string]bool), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("looking up members of Slack user group %s: %w", groupID, ctx.Err())
	}
}

// groupLookupTimeout bounds one shared usergroups.users.list call, rate-limit waits included.
const groupLookupTimeout = 15 * time.Second
