package slackemu

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/orgtoken/orgtoken-bot/emulators/rxstamp"
)

const (
	debugHost   = "applink-emu"
	pingPayload = "Ping from applink-emu"
	// maxAckSize is the size at which Slack silently drops a Socket Mode response (FACTS 1.5).
	maxAckSize = 20 * 1024
	// ticketTTL bounds how long an apps.connections.open URL stays dialable.
	ticketTTL = 30 * time.Second
)

// ConnInfo describes one socket, live or finished.
type ConnInfo struct {
	ID        int
	Query     string // raw query of the dialed URL (ticket, app_id, debug_reconnects...)
	OpenedAt  time.Time
	Live      bool     // counted by ConnectionCount: open and not told to disconnect
	Closed    bool     // TCP closed
	Envelopes []string // envelope IDs written to this socket, in order
	Pongs     int      // pongs received for our pings
}

type socketState struct {
	tickets      map[string]time.Time
	conns        []*wsConn // every connection ever accepted, by ID order
	nextID       int
	rr           int
	pingsStopped bool
	every        int // DisconnectEvery n
	everyReason  string
	resolved     int // envelopes resolved (acked or failed) since DisconnectEvery was set
	opened       int // total sockets that got hello
}

func newSocketState() socketState { return socketState{tickets: map[string]time.Time{}} }

type wsConn struct {
	ws       *websocket.Conn
	stamps   *rxstamp.Conn // when the socket's reads arrived; nil where the OS does not say
	writeMu  sync.Mutex
	finished chan struct{} // closed when the read loop ends
	// guarded by Emulator.mu
	info ConnInfo
}

func (s *socketState) live() []*wsConn {
	var out []*wsConn
	for _, c := range s.conns {
		if c.info.Live {
			out = append(out, c)
		}
	}
	return out
}

func (s *socketState) allOpen() []*wsConn {
	var out []*wsConn
	for _, c := range s.conns {
		if !c.info.Closed {
			out = append(out, c)
		}
	}
	return out
}

func (c *wsConn) writeText(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

// handleConnectionsOpen serves apps.connections.open: Bearer xapp token in the header only.
func (e *Emulator) handleConnectionsOpen(w http.ResponseWriter, r *http.Request) {
	const method = "apps.connections.open"
	token := bearer(r)
	call := Call{Method: method, Params: map[string]string{}, At: e.now()}
	for k, v := range r.URL.Query() {
		if k != "token" && len(v) > 0 {
			call.Params[k] = v[0]
		}
	}
	record := func(status int, errCode string) {
		call.Status, call.Error = status, errCode
		e.mu.Lock()
		e.calls = append(e.calls, call)
		keepNewest(&e.calls, e.opts.MaxRecorded, nil)
		e.notifyLocked()
		e.mu.Unlock()
	}
	e.mu.Lock()
	f := e.takeFaultLocked(method)
	e.mu.Unlock()
	if f != nil {
		record(writeFault(w, f))
		return
	}
	switch {
	case token == "":
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "not_authed"})
		record(http.StatusOK, "not_authed")
		return
	case strings.HasPrefix(token, "xoxb-") || strings.HasPrefix(token, "xoxp-"):
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "not_allowed_token_type"})
		record(http.StatusOK, "not_allowed_token_type")
		return
	case token != e.opts.AppToken:
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "error": "invalid_auth"})
		record(http.StatusOK, "invalid_auth")
		return
	}
	ticket := uuid.NewString()
	e.mu.Lock()
	if d := e.rateLimitedLocked(method, ""); d > 0 {
		e.mu.Unlock()
		w.Header().Set("Retry-After", retryAfterSeconds(d))
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"ok": false, "error": "ratelimited"})
		record(http.StatusTooManyRequests, "ratelimited")
		return
	}
	e.sock.tickets[ticket] = e.now().Add(ticketTTL)
	e.mu.Unlock()
	wsURL := "ws" + strings.TrimPrefix(e.baseURL, "http") + "/link/?ticket=" + ticket + "&app_id=" + e.appHash
	writeJSON(w, http.StatusOK, map[string]any{
		"ok":  true,
		"url": wsURL,
		"response_metadata": map[string]any{
			"scopes":         []string{"connections:write"},
			"acceptedScopes": []string{"connections:write"},
		},
	})
	record(http.StatusOK, "")
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  32 * 1024,
	WriteBufferSize: 32 * 1024,
	CheckOrigin:     func(*http.Request) bool { return true },
}

// handleSocket accepts a dial of a URL handed out by apps.connections.open.
func (e *Emulator) handleSocket(w http.ResponseWriter, r *http.Request) {
	ticket := r.URL.Query().Get("ticket")
	e.mu.Lock()
	exp, ok := e.sock.tickets[ticket]
	delete(e.sock.tickets, ticket) // single use, even when expired
	e.mu.Unlock()
	if !ok || e.now().After(exp) {
		http.Error(w, "invalid ticket", http.StatusUnauthorized)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(1 << 20)
	c := &wsConn{ws: ws, stamps: rxstamp.Of(ws.UnderlyingConn()), finished: make(chan struct{})}

	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		_ = ws.Close()
		return
	}
	// The rest of this handler writes to the socket, so Close waits for it too (net/http does
	// not track hijacked connections).
	e.wg.Add(1)
	defer e.wg.Done()
	tooMany := len(e.sock.live()) >= e.opts.MaxConnections
	e.sock.nextID++
	c.info = ConnInfo{ID: e.sock.nextID, Query: r.URL.RawQuery, OpenedAt: e.now(), Live: !tooMany}
	e.sock.conns = append(e.sock.conns, c)
	numConns := len(e.sock.live())
	ws.SetPongHandler(func(string) error {
		e.mu.Lock()
		c.info.Pongs++
		e.mu.Unlock()
		return nil
	})
	e.wg.Go(func() { e.readLoop(c) })
	e.mu.Unlock()

	if tooMany {
		e.sendDisconnect(c, "too_many_websockets")
		return
	}
	hello, _ := json.Marshal(map[string]any{
		"type":            "hello",
		"num_connections": numConns,
		"debug_info": map[string]any{
			"host":                        debugHost,
			"build_number":                1,
			"approximate_connection_time": 18060,
		},
		"connection_info": map[string]any{"app_id": e.opts.AppID},
	})
	if err := c.writeText(hello); err != nil {
		_ = ws.Close()
		return
	}
	e.mu.Lock()
	e.sock.opened++
	e.notifyLocked()
	e.mu.Unlock()
	e.goTracked(func() { e.pingLoop(c) })
}

func (e *Emulator) readLoop(c *wsConn) {
	defer func() {
		_ = c.ws.Close()
		e.mu.Lock()
		c.info.Live = false
		c.info.Closed = true
		e.notifyLocked()
		e.mu.Unlock()
		close(c.finished)
	}()
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		if mt == websocket.TextMessage {
			read := time.Now()
			e.handleAck(c, data, rxstamp.ArrivalOr(c.stamps, read), read)
		}
	}
}

func (e *Emulator) pingLoop(c *wsConn) {
	t := time.NewTicker(e.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.finished:
			return
		case <-e.done:
			return
		case <-t.C:
			e.mu.Lock()
			stopped := e.sock.pingsStopped
			e.mu.Unlock()
			if stopped {
				continue
			}
			_ = c.ws.WriteControl(websocket.PingMessage, []byte(pingPayload), time.Now().Add(5*time.Second))
		}
	}
}

// sendDisconnect takes c out of rotation, writes the disconnect frame, and closes TCP once the
// client has closed or DisconnectGrace has passed (Slack sometimes leaves TCP open; we do not).
func (e *Emulator) sendDisconnect(c *wsConn, reason string) {
	e.mu.Lock()
	c.info.Live = false
	e.notifyLocked()
	e.mu.Unlock()
	frame, _ := json.Marshal(map[string]any{
		"type":       "disconnect",
		"reason":     reason,
		"debug_info": map[string]any{"host": debugHost},
	})
	if err := c.writeText(frame); err != nil {
		_ = c.ws.Close()
		return
	}
	grace := e.opts.DisconnectGrace
	if !e.goTracked(func() {
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-c.finished:
		case <-t.C:
		case <-e.done:
		}
		_ = c.ws.Close()
	}) {
		_ = c.ws.Close()
	}
}

// Disconnect sends {"type":"disconnect","reason":reason} to every live socket and then closes
// them. It returns how many sockets it told.
func (e *Emulator) Disconnect(reason string) int {
	e.mu.Lock()
	conns := e.sock.live()
	e.mu.Unlock()
	for _, c := range conns {
		e.sendDisconnect(c, reason)
	}
	return len(conns)
}

// DisconnectConn sends a disconnect frame to one socket by ConnInfo.ID.
func (e *Emulator) DisconnectConn(id int, reason string) bool {
	c := e.connByID(id)
	if c == nil {
		return false
	}
	e.sendDisconnect(c, reason)
	return true
}

// DropConnections closes every open socket's TCP connection without a frame.
func (e *Emulator) DropConnections() int {
	e.mu.Lock()
	conns := e.sock.allOpen()
	for _, c := range conns {
		c.info.Live = false
	}
	e.notifyLocked()
	e.mu.Unlock()
	for _, c := range conns {
		_ = c.ws.Close()
	}
	return len(conns)
}

// StopPings stops ping frames on every socket, so clients' ping watchdogs fire.
func (e *Emulator) StopPings() { e.setPings(true) }

// ResumePings starts ping frames again.
func (e *Emulator) ResumePings() { e.setPings(false) }

func (e *Emulator) setPings(stopped bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sock.pingsStopped = stopped
}

// DisconnectEvery makes the emulator send a disconnect (reason, default "refresh_requested")
// to the socket that carried every n-th envelope, once that envelope is acked or has failed.
// n <= 0 turns it off.
func (e *Emulator) DisconnectEvery(n int, reason string) {
	if reason == "" {
		reason = "refresh_requested"
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sock.every, e.sock.everyReason, e.sock.resolved = n, reason, 0
}

// ConnectionCount is the number of live sockets (open and not told to disconnect).
func (e *Emulator) ConnectionCount() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.sock.live())
}

// ConnectionsOpened is how many sockets have received hello since the emulator started.
func (e *Emulator) ConnectionsOpened() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sock.opened
}

// WaitConnected waits until at least n sockets are live.
func (e *Emulator) WaitConnected(ctx context.Context, n int) error {
	return e.waitFor(ctx, func() bool { return len(e.sock.live()) >= n })
}

// WaitConnectionsOpened waits until at least n sockets have received hello in total; use it
// to wait for a reconnect (ConnectionsOpened()+1).
func (e *Emulator) WaitConnectionsOpened(ctx context.Context, n int) error {
	return e.waitFor(ctx, func() bool { return e.sock.opened >= n })
}

// Connections describes every socket accepted so far, in order.
func (e *Emulator) Connections() []ConnInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]ConnInfo, 0, len(e.sock.conns))
	for _, c := range e.sock.conns {
		ci := c.info
		ci.Envelopes = append([]string(nil), ci.Envelopes...)
		out = append(out, ci)
	}
	return out
}

// SendRaw writes frame as a text message to the next live socket (round-robin), e.g. a
// malformed or unknown-type frame. It returns the socket's ID.
func (e *Emulator) SendRaw(ctx context.Context, frame []byte) (int, error) {
	c, err := e.pickConn(ctx)
	if err != nil {
		return 0, err
	}
	e.mu.Lock()
	id := c.info.ID
	e.mu.Unlock()
	return id, c.writeText(frame)
}

func (e *Emulator) connByID(id int) *wsConn {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.sock.conns {
		if c.info.ID == id {
			return c
		}
	}
	return nil
}

// pickConn returns the next live socket round-robin, waiting up to DispatchWait for one.
func (e *Emulator) pickConn(ctx context.Context) (*wsConn, error) {
	wctx, cancel := context.WithTimeout(ctx, e.opts.DispatchWait)
	defer cancel()
	var picked *wsConn
	err := e.waitFor(wctx, func() bool {
		live := e.sock.live()
		if len(live) == 0 {
			return false
		}
		picked = live[e.sock.rr%len(live)]
		e.sock.rr++
		return true
	})
	if err != nil {
		if ctx.Err() != nil || err == ErrClosed {
			return nil, err
		}
		return nil, ErrNotConnected
	}
	return picked, nil
}
