package slackemu

import (
	"strings"

	"github.com/slack-go/slack"
)

// User is a workspace member as users.info reports it.
type User struct {
	ID          string
	Name        string // handle, e.g. "alice"
	RealName    string
	DisplayName string
	Email       string
	TZ          string
	Deleted     bool
	IsBot       bool
	IsAdmin     bool
	IsOwner     bool
	IsRestrict  bool // guest account
}

// Channel is a conversation the bot may be asked about or post to.
type Channel struct {
	ID          string
	Name        string
	IsPrivate   bool
	BotIsMember bool
	// Members limits who may be addressed with chat.postEphemeral; empty means everyone.
	Members []string
}

type directory struct {
	users    map[string]User
	groups   map[string][]string
	channels map[string]Channel
}

func newDirectory() directory {
	return directory{users: map[string]User{}, groups: map[string][]string{}, channels: map[string]Channel{}}
}

// AddUser adds or replaces a user.
func (e *Emulator) AddUser(u User) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dir.users[u.ID] = u
}

// SetUserGroup sets the members of user group id (e.g. "S0APPROVERS"); no members is an
// existing, empty group.
func (e *Emulator) SetUserGroup(id string, members ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dir.groups[id] = append([]string{}, members...)
}

// RemoveUserGroup deletes a group; usergroups.users.list then answers no_such_subteam.
func (e *Emulator) RemoveUserGroup(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.dir.groups, id)
}

// AddChannel adds or replaces a channel.
func (e *Emulator) AddChannel(c Channel) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c.Members = append([]string{}, c.Members...)
	e.dir.channels[c.ID] = c
}

// imChannelID is the DM channel between the bot and a user.
func imChannelID(userID string) string { return "D" + strings.TrimLeft(userID, "UW") }

// resolveChannelLocked maps a channel argument to a known channel. A user ID means the DM
// with that user, which the bot can always post to.
func (e *Emulator) resolveChannelLocked(id string) (Channel, bool) {
	if c, ok := e.dir.channels[id]; ok {
		return c, true
	}
	if u, ok := e.dir.users[id]; ok {
		return Channel{ID: imChannelID(u.ID), Name: "directmessage", IsPrivate: true, BotIsMember: true, Members: []string{u.ID}}, true
	}
	for _, u := range e.dir.users {
		if imChannelID(u.ID) == id {
			return Channel{ID: id, Name: "directmessage", IsPrivate: true, BotIsMember: true, Members: []string{u.ID}}, true
		}
	}
	return Channel{}, false
}

func (c Channel) hasMember(userID string) bool {
	if len(c.Members) == 0 {
		return true
	}
	for _, m := range c.Members {
		if m == userID {
			return true
		}
	}
	return false
}

func (u User) toSlack(teamID string) slack.User {
	tz := u.TZ
	if tz == "" {
		tz = "UTC"
	}
	return slack.User{
		ID:               u.ID,
		TeamID:           teamID,
		Name:             u.Name,
		Deleted:          u.Deleted,
		RealName:         u.RealName,
		TZ:               tz,
		TZLabel:          tz,
		IsBot:            u.IsBot,
		IsAdmin:          u.IsAdmin,
		IsOwner:          u.IsOwner,
		IsRestricted:     u.IsRestrict,
		IsEmailConfirmed: u.Email != "",
		Locale:           "en-US",
		Profile: slack.UserProfile{
			RealName:              u.RealName,
			RealNameNormalized:    u.RealName,
			DisplayName:           u.DisplayName,
			DisplayNameNormalized: u.DisplayName,
			Email:                 u.Email,
			Team:                  teamID,
		},
	}
}
