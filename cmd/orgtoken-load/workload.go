package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// kind is one subcommand shape the load sends and the report breaks numbers down by.
type kind int

const (
	kindList kind = iota
	kindAddByName
	kindUpdateByName
	kindRemoveByName
	kindAddByID
	kindUpdateByID
	kindRemoveByID
	numKinds
)

var kindNames = [numKinds]string{"list", "add by name", "update by name", "remove by name", "add by ID", "update by ID", "remove by ID"}

func (k kind) String() string { return kindNames[k] }

func (k kind) isChange() bool { return k != kindList }

func (k kind) byName() bool {
	return k == kindAddByName || k == kindUpdateByName || k == kindRemoveByName
}

// verb is the subcommand as typed.
func (k kind) verb() string {
	switch k {
	case kindAddByName, kindAddByID:
		return "add"
	case kindUpdateByName, kindUpdateByID:
		return "update"
	case kindRemoveByName, kindRemoveByID:
		return "remove"
	}
	return "list"
}

// mix is the share of each command family, in percent (or any relative weights).
type mix struct{ list, byName, byID int }

func (m mix) changes() int { return m.byName + m.byID }

func parseMix(s string) (mix, error) {
	var m mix
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(val)
		if !ok || err != nil || n < 0 {
			return m, fmt.Errorf("%q is not name=weight with a whole, non-negative weight", part)
		}
		switch name {
		case "list":
			m.list = n
		case "name":
			m.byName = n
		case "id":
			m.byID = n
		default:
			return m, fmt.Errorf("unknown family %q (want list, name or id)", name)
		}
	}
	if m.list+m.changes() == 0 {
		return m, fmt.Errorf("every weight is zero")
	}
	return m, nil
}

// Workspace roles the load cycles a token through: none → member → operator → none.
const (
	roleMember   = astroemu.RoleWorkspaceMember
	roleOperator = astroemu.RoleWorkspaceOperator
)

// slot is one (token, workspace) pair a single user owns, with the role it has there now.
// Because exactly one user changes a slot and waits for each answer, the next change always
// makes sense (add when absent, update or remove when present) and every change succeeds.
type slot struct {
	token     seededToken
	workspace string
	role      string
}

// command is one line typed after /orgtoken, with what success looks like.
type command struct {
	kind      kind
	text      string
	workspace string
	slot      *slot  // nil for lookups
	wantRole  string // the slot's role once the change lands
}

// user is one Slack user typing commands one after another in their own channel, so the
// in-channel announcement of a change can be told apart from everyone else's.
type user struct {
	id      string
	channel string
	slots   []*slot
	next    int
	rng     *rand.Rand
}

func newUser(i int, seed uint64) *user {
	return &user{
		id:      fmt.Sprintf("U0LOAD%04d", i+1),
		channel: fmt.Sprintf("C0LOAD%04d", i+1),
		rng:     rand.New(rand.NewPCG(seed, uint64(i))),
	}
}

// nextCommand draws the next command from the mix. A user without tokens only lists.
func (u *user) nextCommand(m mix, listWS string) command {
	r := u.rng.IntN(m.list + m.changes())
	if r < m.list || len(u.slots) == 0 {
		return listCommand(listWS)
	}
	// Stay on one slot for its whole add → update → remove cycle, so even a short run sends
	// the three verbs in equal measure; then move to the next token.
	s := u.slots[u.next%len(u.slots)]
	c := changeCommand(s, r < m.list+m.byName)
	if c.wantRole == "" {
		u.next++
	}
	return c
}

func listCommand(ws string) command {
	return command{kind: kindList, text: "list -w " + ws, workspace: ws}
}

// changeCommand is the change that makes sense for s now, naming the token as asked.
func changeCommand(s *slot, byName bool) command {
	var k kind
	var text, want string
	target := s.token.ID
	if byName {
		target = `-n "` + s.token.Name + `"`
	}
	switch s.role {
	case "":
		k, want = kindAddByID, roleMember
		text = fmt.Sprintf("add %s -r member -w %s", target, s.workspace)
	case roleMember:
		k, want = kindUpdateByID, roleOperator
		text = fmt.Sprintf("update %s -r operator -w %s", target, s.workspace)
	default:
		k, want = kindRemoveByID, ""
		text = fmt.Sprintf("remove %s -w %s", target, s.workspace)
	}
	if byName {
		k -= kindAddByID - kindAddByName
	}
	return command{kind: k, text: text, workspace: s.workspace, slot: s, wantRole: want}
}

// successTitle is how the bot's in-channel announcement of a successful change begins.
func successTitle(k kind) string {
	switch k.verb() {
	case "add":
		return "Token added to workspace"
	case "update":
		return "Token role updated"
	default:
		return "Token removed from workspace"
	}
}

// listTitle is how a successful list reply begins.
const listTitle = "Organization API tokens in workspace "
