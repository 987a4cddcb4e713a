package slackemu

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxMessageText is where Slack truncates message text with a message_truncated warning.
const maxMessageText = 40000

// Call is one Web API request as the emulator saw it. Params never include the token.
type Call struct {
	Method string
	Params map[string]string // JSON-valued parameters keep their raw JSON text
	Status int               // HTTP status answered
	Error  string            // Slack error code, "" when ok
	At     time.Time
}

// Calls returns the recorded calls to method ("" for all), in order.
func (e *Emulator) Calls(method string) []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Call
	for _, c := range e.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// apiRequest holds a Web API request's arguments, from a form, a query or a JSON body.
type apiRequest struct {
	token  string
	form   url.Values
	body   map[string]json.RawMessage
	isJSON bool
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if t, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(t)
	}
	return ""
}

func parseAPIRequest(r *http.Request) (*apiRequest, error) {
	req := &apiRequest{form: url.Values{}}
	ctype, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	raw, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, err
	}
	switch {
	case ctype == "application/json":
		req.isJSON = true
		if len(bytes.TrimSpace(raw)) > 0 {
			if err := json.Unmarshal(raw, &req.body); err != nil {
				return nil, err
			}
		}
	default:
		vals, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, err
		}
		req.form = vals
	}
	// The token comes from the Authorization header or a form body's token field. A JSON
	// body's token field is not read (Slack takes a JSON post's token from the header only,
	// api.slack.com/web "JSON-encoded bodies"), nor is a token in the query string.
	req.token = bearer(r)
	if req.token == "" && !req.isJSON {
		req.token = req.form.Get("token")
	}
	for k, v := range r.URL.Query() {
		if _, ok := req.form[k]; !ok {
			req.form[k] = v
		}
	}
	return req, nil
}

// str returns a string argument; JSON non-strings come back as their JSON text.
func (a *apiRequest) str(k string) string {
	if v, ok := a.body[k]; ok {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		return string(v)
	}
	return a.form.Get(k)
}

func (a *apiRequest) has(k string) bool {
	if _, ok := a.body[k]; ok {
		return true
	}
	_, ok := a.form[k]
	return ok
}

// raw returns a JSON-valued argument: a form field holding JSON, or a JSON body member
// (which may itself be a JSON string holding JSON, as some clients send it).
func (a *apiRequest) raw(k string) (json.RawMessage, bool) {
	if v, ok := a.body[k]; ok {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return json.RawMessage(s), true
		}
		return v, true
	}
	if vs, ok := a.form[k]; ok && len(vs) > 0 {
		return json.RawMessage(vs[0]), true
	}
	return nil, false
}

func (a *apiRequest) params() map[string]string {
	out := map[string]string{}
	for k, v := range a.form {
		if k != "token" && len(v) > 0 {
			out[k] = v[0]
		}
	}
	for k := range a.body {
		if k != "token" {
			out[k] = a.str(k)
		}
	}
	return out
}

// apiResult is a handler's answer; body gets "ok" added.
type apiResult struct {
	err  string
	body map[string]any
}

func ok(body map[string]any) apiResult {
	if body == nil {
		body = map[string]any{}
	}
	return apiResult{body: body}
}

func fail(code string) apiResult { return apiResult{err: code} }

type apiHandler func(e *Emulator, req *apiRequest) apiResult

var apiHandlers = map[string]apiHandler{
	"auth.test":             (*Emulator).apiAuthTest,
	"chat.postMessage":      (*Emulator).apiPostMessage,
	"chat.postEphemeral":    (*Emulator).apiPostEphemeral,
	"chat.update":           (*Emulator).apiUpdate,
	"chat.getPermalink":     (*Emulator).apiPermalink,
	"usergroups.users.list": (*Emulator).apiUserGroupMembers,
	"users.info":            (*Emulator).apiUsersInfo,
	"conversations.info":    (*Emulator).apiConversationsInfo,
	"views.open":            (*Emulator).apiViewsOpen,
	"views.push":            (*Emulator).apiViewsPush,
	"views.update":          (*Emulator).apiViewsUpdate,
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func (e *Emulator) handleWebAPI(w http.ResponseWriter, r *http.Request) {
	method := r.PathValue("method")
	call := Call{Method: method, At: e.now()}
	record := func(status int, code string) {
		call.Status, call.Error = status, code
		e.mu.Lock()
		e.calls = append(e.calls, call)
		keepNewest(&e.calls, e.opts.MaxRecorded, nil)
		e.notifyLocked()
		e.mu.Unlock()
	}
	req, err := parseAPIRequest(r)
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_form_data"})
		record(http.StatusOK, "invalid_form_data")
		return
	}
	call.Params = req.params()

	e.mu.Lock()
	f := e.takeFaultLocked(method)
	e.mu.Unlock()
	if f != nil {
		record(writeFault(w, f))
		return
	}
	handler, known := apiHandlers[method]
	answer := func(code string) {
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": code})
		record(http.StatusOK, code)
	}
	switch {
	case !known:
		answer("unknown_method")
		return
	case req.token == "":
		answer("not_authed")
		return
	case strings.HasPrefix(req.token, "xapp-"):
		answer("not_allowed_token_type")
		return
	case req.token != e.opts.BotToken:
		answer("invalid_auth")
		return
	}

	e.mu.Lock()
	if d := e.rateLimitedLocked(method, req.str("channel")); d > 0 {
		e.mu.Unlock()
		w.Header().Set("Retry-After", retryAfterSeconds(d))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
		record(http.StatusTooManyRequests, "ratelimited")
		return
	}
	res := handler(e, req)
	e.mu.Unlock()

	body := res.body
	if body == nil {
		body = map[string]any{}
	}
	body["ok"] = res.err == ""
	if res.err != "" {
		body["error"] = res.err
	}
	writeJSON(w, http.StatusOK, body)
	record(http.StatusOK, res.err)
}

// blocksErrorResult is Slack's invalid_blocks answer (FACTS 3.11).
func blocksErrorResult(code string, errs []string) apiResult {
	msgs := make([]string, len(errs))
	for i, s := range errs {
		msgs[i] = "[ERROR] " + s
	}
	return apiResult{err: code, body: map[string]any{
		"errors":            errs,
		"response_metadata": map[string]any{"messages": msgs},
	}}
}

func (e *Emulator) apiAuthTest(*apiRequest) apiResult {
	return ok(map[string]any{
		"url":                   "https://" + e.opts.TeamDomain + ".slack.com/",
		"team":                  e.opts.TeamName,
		"user":                  e.opts.BotName,
		"team_id":               e.opts.TeamID,
		"user_id":               e.opts.BotUserID,
		"bot_id":                e.opts.BotID,
		"is_enterprise_install": false,
	})
}

// messageContent reads and validates text and blocks shared by the chat methods.
func (e *Emulator) messageContent(req *apiRequest) (text string, blocks json.RawMessage, warnings []string, res *apiResult) {
	text = req.str("text")
	if raw, has := req.raw("blocks"); has && hasBlocks(raw) {
		errs, badFormat := validateBlocks(raw, "/blocks", surfaceMessage)
		if badFormat {
			r := fail("invalid_blocks_format")
			return "", nil, nil, &r
		}
		if len(errs) > 0 {
			r := blocksErrorResult("invalid_blocks", errs)
			return "", nil, nil, &r
		}
		blocks = compactJSON(raw)
		if string(blocks) == "[]" {
			blocks = nil
		}
	}
	if len(text) > maxMessageText {
		text = text[:maxMessageText]
		warnings = []string{"message_truncated"}
	}
	return text, blocks, warnings, nil
}

func (e *Emulator) messageJSON(m *Message) map[string]any {
	out := map[string]any{
		"type":    "message",
		"user":    m.UserID,
		"bot_id":  e.opts.BotID,
		"app_id":  e.opts.AppID,
		"text":    m.Text,
		"ts":      m.TS,
		"team":    e.opts.TeamID,
		"blocks":  json.RawMessage("[]"),
		"channel": m.Channel,
	}
	if m.Blocks != nil {
		out["blocks"] = m.Blocks
	}
	if m.ThreadTS != "" {
		out["thread_ts"] = m.ThreadTS
	}
	if m.Edits > 0 {
		out["edited"] = map[string]any{"user": m.UserID, "ts": m.TS}
	}
	return out
}

func withWarnings(body map[string]any, warnings []string) map[string]any {
	if len(warnings) > 0 {
		body["warning"] = strings.Join(warnings, ",")
		body["response_metadata"] = map[string]any{"warnings": warnings}
	}
	return body
}

func (e *Emulator) apiPostMessage(req *apiRequest) apiResult {
	c, found := e.resolveChannelLocked(req.str("channel"))
	if !found {
		return fail("channel_not_found")
	}
	if !c.BotIsMember {
		return fail("not_in_channel")
	}
	text, blocks, warnings, bad := e.messageContent(req)
	if bad != nil {
		return *bad
	}
	if text == "" && blocks == nil && !req.has("attachments") {
		return fail("no_text")
	}
	m := e.addMessageLocked(Message{
		Channel: c.ID, ThreadTS: req.str("thread_ts"), Text: text, Blocks: blocks,
		UserID: e.opts.BotUserID, Source: "chat.postMessage", Warnings: warnings,
	})
	return ok(withWarnings(map[string]any{"channel": c.ID, "ts": m.TS, "message": e.messageJSON(&m)}, warnings))
}

func (e *Emulator) apiPostEphemeral(req *apiRequest) apiResult {
	c, found := e.resolveChannelLocked(req.str("channel"))
	if !found {
		return fail("channel_not_found")
	}
	user := req.str("user")
	if _, known := e.dir.users[user]; !known {
		return fail("user_not_found")
	}
	if !c.BotIsMember {
		return fail("not_in_channel")
	}
	if !c.hasMember(user) {
		return fail("user_not_in_channel")
	}
	text, blocks, warnings, bad := e.messageContent(req)
	if bad != nil {
		return *bad
	}
	if text == "" && blocks == nil && !req.has("attachments") {
		return fail("no_text")
	}
	m := e.addMessageLocked(Message{
		Channel: c.ID, ThreadTS: req.str("thread_ts"), Text: text, Blocks: blocks,
		UserID: e.opts.BotUserID, Ephemeral: true, VisibleTo: user, Source: "chat.postEphemeral", Warnings: warnings,
	})
	return ok(withWarnings(map[string]any{"message_ts": m.TS}, warnings))
}

// apiUpdate follows chat.update: text without blocks drops the old blocks, blocks:[] removes
// them, only the bot's own non-ephemeral messages can change.
func (e *Emulator) apiUpdate(req *apiRequest) apiResult {
	c, found := e.resolveChannelLocked(req.str("channel"))
	if !found {
		return fail("channel_not_found")
	}
	m := e.store.byTS[req.str("ts")]
	if m == nil || m.Channel != c.ID || m.Deleted {
		return fail("message_not_found")
	}
	if m.Ephemeral || m.UserID != e.opts.BotUserID {
		return fail("cant_update_message")
	}
	rawBlocks, blocksGiven := req.raw("blocks")
	blocksGiven = blocksGiven && hasBlocks(rawBlocks)
	if !req.has("text") && !blocksGiven && !req.has("attachments") {
		return fail("no_text")
	}
	text, blocks, warnings, bad := e.messageContent(req)
	if bad != nil {
		return *bad
	}
	if req.has("text") {
		m.Text = text
		if !blocksGiven {
			m.Blocks = nil
		}
	}
	if blocksGiven {
		m.Blocks = blocks
	}
	m.Edits++
	m.Warnings = warnings
	e.notifyLocked()
	return ok(withWarnings(map[string]any{"channel": c.ID, "ts": m.TS, "text": m.Text, "message": e.messageJSON(m)}, warnings))
}

func (e *Emulator) apiPermalink(req *apiRequest) apiResult {
	c, found := e.resolveChannelLocked(req.str("channel"))
	if !found {
		return fail("channel_not_found")
	}
	m := e.store.byTS[req.str("message_ts")]
	if m == nil || m.Channel != c.ID || m.Ephemeral {
		return fail("message_not_found")
	}
	return ok(map[string]any{
		"channel":   c.ID,
		"permalink": "https://" + e.opts.TeamDomain + ".slack.com/archives/" + c.ID + "/p" + strings.ReplaceAll(m.TS, ".", ""),
	})
}

func (e *Emulator) apiUserGroupMembers(req *apiRequest) apiResult {
	members, found := e.dir.groups[req.str("usergroup")]
	if !found {
		return fail("no_such_subteam")
	}
	return ok(map[string]any{"users": append([]string{}, members...)})
}

func (e *Emulator) apiUsersInfo(req *apiRequest) apiResult {
	u, found := e.dir.users[req.str("user")]
	if !found {
		return fail("user_not_found")
	}
	return ok(map[string]any{"user": u.toSlack(e.opts.TeamID)})
}

func (e *Emulator) apiConversationsInfo(req *apiRequest) apiResult {
	c, found := e.resolveChannelLocked(req.str("channel"))
	if !found || (c.IsPrivate && !c.BotIsMember) {
		return fail("channel_not_found")
	}
	isIM := strings.HasPrefix(c.ID, "D")
	ch := map[string]any{
		"id":              c.ID,
		"name":            c.Name,
		"is_channel":      !isIM && !c.IsPrivate,
		"is_group":        false,
		"is_im":           isIM,
		"is_mpim":         false,
		"is_private":      c.IsPrivate,
		"is_archived":     false,
		"is_general":      false,
		"is_member":       c.BotIsMember,
		"created":         1700000000,
		"creator":         "",
		"context_team_id": e.opts.TeamID,
	}
	if isIM {
		delete(ch, "name")
		ch["user"] = c.Members[0]
	}
	if req.str("include_num_members") == "true" && !isIM {
		n := len(c.Members)
		ch["num_members"] = n
	}
	return ok(map[string]any{"channel": ch})
}
