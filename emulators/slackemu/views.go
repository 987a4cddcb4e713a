package slackemu

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// View is a modal as the emulator holds it.
type View struct {
	ID              string
	RootViewID      string
	PreviousViewID  string
	ExternalID      string
	Hash            string
	UserID          string
	Type            string
	CallbackID      string
	PrivateMetadata string
	Title           string
	JSON            json.RawMessage // the view object as the app last sent it
	Blocks          json.RawMessage
	Open            bool
	// LastChange is what last set it: views.open, views.push, views.update, response_action
	// update/push, or closed by submit/clear.
	LastChange string
	// Errors are the response_action "errors" from the latest submission, by block_id.
	Errors map[string]string
}

type viewStore struct {
	order []*View
	byID  map[string]*View
	stack map[string][]string // user → open view IDs, root first
}

func newViewStore() viewStore {
	return viewStore{byID: map[string]*View{}, stack: map[string][]string{}}
}

type trigger struct {
	user    string
	created time.Time
	used    bool
	viewID  string // set when the interaction came from a modal (needed for views.push)
}

func (e *Emulator) newTriggerLocked(user, viewID string) string {
	n := e.nextSeqLocked()
	id := fmt.Sprintf("%d.%d.%032x", 1000000000000+n, e.now().Unix(), n*7919)
	e.trigger[id] = &trigger{user: user, created: e.now(), viewID: viewID}
	return id
}

// useTriggerLocked spends a trigger_id: once, within TriggerTTL.
func (e *Emulator) useTriggerLocked(id string) (*trigger, *apiResult) {
	if id == "" {
		r := apiResult{err: "invalid_arguments", body: map[string]any{
			"response_metadata": map[string]any{"messages": []string{"[ERROR] invalid `trigger_id`"}},
		}}
		return nil, &r
	}
	t := e.trigger[id]
	if t == nil {
		r := fail("invalid_trigger_id")
		return nil, &r
	}
	if t.used || e.now().Sub(t.created) > e.opts.TriggerTTL {
		r := fail("expired_trigger_id")
		return nil, &r
	}
	t.used = true
	return t, nil
}

// ExpireTrigger makes a trigger_id answer expired_trigger_id from now on.
func (e *Emulator) ExpireTrigger(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t := e.trigger[id]; t != nil {
		t.created = e.now().Add(-e.opts.TriggerTTL - time.Second)
	}
}

// Views returns every view ever opened, in order, in its current state.
func (e *Emulator) Views() []View {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]View, 0, len(e.views.order))
	for _, v := range e.views.order {
		out = append(out, copyView(v))
	}
	return out
}

// View returns one view by ID.
func (e *Emulator) View(id string) (View, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.views.byID[id]
	if !ok {
		return View{}, false
	}
	return copyView(v), true
}

func copyView(v *View) View {
	c := *v
	c.JSON = append(json.RawMessage(nil), v.JSON...)
	c.Blocks = append(json.RawMessage(nil), v.Blocks...)
	if v.Errors != nil {
		c.Errors = map[string]string{}
		for k, s := range v.Errors {
			c.Errors[k] = s
		}
	}
	return c
}

type viewInput struct {
	Type            string          `json:"type"`
	Title           *textObj        `json:"title"`
	Submit          *textObj        `json:"submit"`
	Close           *textObj        `json:"close"`
	Blocks          json.RawMessage `json:"blocks"`
	PrivateMetadata string          `json:"private_metadata"`
	CallbackID      string          `json:"callback_id"`
	ExternalID      string          `json:"external_id"`
}

type textObj struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// parseView validates a view as views.* do; failures are invalid_arguments with pointers.
func parseView(raw json.RawMessage) (viewInput, *apiResult) {
	var v viewInput
	if len(raw) > 250*1024 {
		r := fail("view_too_large")
		return v, &r
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		r := blocksErrorResult("invalid_arguments", []string{"must provide an object [json-pointer:/view]"})
		return v, &r
	}
	var errs []string
	add := func(msg, ptr string) { errs = append(errs, fmt.Sprintf("%s [json-pointer:%s]", msg, ptr)) }
	if v.Type != "modal" {
		add("must be one of modal", "/view/type")
	}
	checkTitle := func(t *textObj, name string, required bool) {
		switch {
		case t == nil && required:
			add("missing required field: "+name, "/view")
		case t == nil:
		case t.Type != "plain_text":
			add("must be plain_text", "/view/"+name+"/type")
		case t.Text == "":
			add("must be more than 0 characters", "/view/"+name+"/text")
		case utf8.RuneCountInString(t.Text) > 24:
			add("must be less than 25 characters", "/view/"+name+"/text")
		}
	}
	checkTitle(v.Title, "title", true)
	checkTitle(v.Submit, "submit", false)
	checkTitle(v.Close, "close", false)
	if utf8.RuneCountInString(v.PrivateMetadata) > 3000 {
		add("must be less than 3001 characters", "/view/private_metadata")
	}
	if utf8.RuneCountInString(v.CallbackID) > 255 {
		add("must be less than 256 characters", "/view/callback_id")
	}
	if utf8.RuneCountInString(v.ExternalID) > 255 {
		add("must be less than 256 characters", "/view/external_id")
	}
	if !hasBlocks(v.Blocks) {
		add("missing required field: blocks", "/view")
	} else {
		berrs, badFormat := validateBlocks(v.Blocks, "/view/blocks", surfaceModal)
		if badFormat {
			add("must provide an array", "/view/blocks")
		}
		errs = append(errs, berrs...)
		// A modal with an input block needs a submit button (the view object's reference:
		// "submit is required when an input block is within the blocks array").
		if v.Submit == nil && hasInputBlock(v.Blocks) {
			add("must provide a submit property when using input blocks", "/view")
		}
	}
	if len(errs) > 0 {
		r := blocksErrorResult("invalid_arguments", errs)
		return v, &r
	}
	return v, nil
}

func hasInputBlock(blocks json.RawMessage) bool {
	var bs []struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(blocks, &bs)
	for _, b := range bs {
		if b.Type == "input" {
			return true
		}
	}
	return false
}

func (e *Emulator) newViewHashLocked() string {
	return fmt.Sprintf("%d.%08x", e.now().Unix(), e.nextSeqLocked()*2654435761%(1<<32))
}

func (e *Emulator) storeViewLocked(v *View, in viewInput, raw json.RawMessage, change string) {
	v.Type, v.CallbackID, v.PrivateMetadata, v.ExternalID = in.Type, in.CallbackID, in.PrivateMetadata, in.ExternalID
	if in.Title != nil {
		v.Title = in.Title.Text
	}
	v.JSON = compactJSON(raw)
	v.Blocks = compactJSON(in.Blocks)
	v.Hash = e.newViewHashLocked()
	v.LastChange = change
	v.Open = true
	e.notifyLocked()
}

// viewJSON is the view object Slack returns from views.* and puts in interaction payloads.
func (e *Emulator) viewJSON(v *View, state map[string]any) map[string]any {
	var obj map[string]any
	_ = json.Unmarshal(v.JSON, &obj)
	if obj == nil {
		obj = map[string]any{}
	}
	if state == nil {
		state = map[string]any{"values": map[string]any{}}
	}
	obj["id"] = v.ID
	obj["team_id"] = e.opts.TeamID
	obj["state"] = state
	obj["hash"] = v.Hash
	obj["root_view_id"] = v.RootViewID
	obj["previous_view_id"] = nilIfEmpty(v.PreviousViewID)
	obj["app_id"] = e.opts.AppID
	obj["app_installed_team_id"] = e.opts.TeamID
	obj["bot_id"] = e.opts.BotID
	obj["external_id"] = v.ExternalID
	for _, k := range []string{"private_metadata", "callback_id"} {
		if _, ok := obj[k]; !ok {
			obj[k] = ""
		}
	}
	for _, k := range []string{"clear_on_close", "notify_on_close"} {
		if _, ok := obj[k]; !ok {
			obj[k] = false
		}
	}
	return obj
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (e *Emulator) openViewLocked(user string, in viewInput, raw json.RawMessage, parent *View, change string) *View {
	n := e.nextSeqLocked()
	v := &View{ID: fmt.Sprintf("V%010d", n), UserID: user}
	if parent != nil {
		v.RootViewID, v.PreviousViewID = parent.RootViewID, parent.ID
	} else {
		v.RootViewID = v.ID
		for _, id := range e.views.stack[user] {
			e.views.byID[id].Open = false
		}
		e.views.stack[user] = nil
	}
	e.views.order = append(e.views.order, v)
	e.views.byID[v.ID] = v
	e.views.stack[user] = append(e.views.stack[user], v.ID)
	e.storeViewLocked(v, in, raw, change)
	return v
}

func (e *Emulator) apiViewsOpen(req *apiRequest) apiResult {
	raw, _ := req.raw("view")
	in, bad := parseView(raw)
	if bad != nil {
		return *bad
	}
	t, bad := e.useTriggerLocked(req.str("trigger_id"))
	if bad != nil {
		return *bad
	}
	v := e.openViewLocked(t.user, in, raw, nil, "views.open")
	return ok(map[string]any{"view": e.viewJSON(v, nil)})
}

func (e *Emulator) apiViewsPush(req *apiRequest) apiResult {
	raw, _ := req.raw("view")
	in, bad := parseView(raw)
	if bad != nil {
		return *bad
	}
	t, bad := e.useTriggerLocked(req.str("trigger_id"))
	if bad != nil {
		return *bad
	}
	stack := e.views.stack[t.user]
	if len(stack) == 0 {
		return fail("not_found")
	}
	if len(stack) >= 3 {
		return fail("push_limit_reached")
	}
	v := e.openViewLocked(t.user, in, raw, e.views.byID[stack[len(stack)-1]], "views.push")
	return ok(map[string]any{"view": e.viewJSON(v, nil)})
}

func (e *Emulator) apiViewsUpdate(req *apiRequest) apiResult {
	raw, _ := req.raw("view")
	in, bad := parseView(raw)
	if bad != nil {
		return *bad
	}
	var v *View
	if id := req.str("view_id"); id != "" {
		v = e.views.byID[id]
	} else if ext := req.str("external_id"); ext != "" {
		for _, cand := range e.views.order {
			if cand.ExternalID == ext && cand.Open {
				v = cand
			}
		}
	} else {
		return fail("invalid_arguments")
	}
	if v == nil || !v.Open {
		return fail("not_found")
	}
	if h := req.str("hash"); h != "" && h != v.Hash {
		return fail("hash_conflict")
	}
	e.storeViewLocked(v, in, raw, "views.update")
	return ok(map[string]any{"view": e.viewJSON(v, nil)})
}

// closeSubmittedView closes the view an empty view_submission ack answers.
func (e *Emulator) closeSubmittedView(in *Interaction) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if v := e.views.byID[in.viewID]; v != nil {
		e.popViewLocked(v, "closed by submit")
	}
}

func (e *Emulator) popViewLocked(v *View, change string) {
	v.Open = false
	v.LastChange = change
	stack := e.views.stack[v.UserID]
	for i, id := range stack {
		if id == v.ID {
			e.views.stack[v.UserID] = stack[:i]
			break
		}
	}
	e.notifyLocked()
}

// applyViewSubmissionAck applies a response_action from a view_submission ack.
func (e *Emulator) applyViewSubmissionAck(in *Interaction, payload json.RawMessage) string {
	var ra struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
		View           json.RawMessage   `json:"view"`
	}
	if json.Unmarshal(payload, &ra) != nil {
		return "invalid_payload"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	v := e.views.byID[in.viewID]
	if v == nil {
		return ""
	}
	switch ra.ResponseAction {
	case "errors":
		v.Errors = ra.Errors
		v.LastChange = "response_action errors"
		e.notifyLocked()
	case "update", "push":
		vin, bad := parseView(ra.View)
		if bad != nil {
			return bad.err
		}
		if ra.ResponseAction == "update" {
			e.storeViewLocked(v, vin, ra.View, "response_action update")
			v.Errors = nil
		} else {
			e.openViewLocked(v.UserID, vin, ra.View, v, "response_action push")
		}
	case "clear":
		for _, id := range e.views.stack[v.UserID] {
			e.views.byID[id].Open = false
			e.views.byID[id].LastChange = "cleared"
		}
		e.views.stack[v.UserID] = nil
		e.notifyLocked()
	default:
		e.popViewLocked(v, "closed by submit")
	}
	return ""
}

// WaitView waits for a view matching match (in its current state).
func (e *Emulator) WaitView(ctx context.Context, match func(View) bool) (View, error) {
	var found View
	err := e.waitFor(ctx, func() bool {
		for _, v := range e.views.order {
			if c := copyView(v); match(c) {
				found = c
				return true
			}
		}
		return false
	})
	return found, err
}
