package main

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A dump as the runtime prints it with GOTRACEBACK=system (trimmed): each frame's function,
// then its file with fp and sp.
const sampleDump = `SIGQUIT: quit
PC=0x4815a1 m=0 sigcode=0

goroutine 7 gp=0xc000102380 m=nil [select]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
	runtime/proc.go:460 +0xce fp=0xc000a1f6d8 sp=0xc000a1f6b8 pc=0x44a6ee
net/http.(*http2ClientConn).roundTrip(0xc0001a2000, 0xc0003c6000, 0x0)
	net/http/h2_bundle.go:8688 +0x524 fp=0xc000a1f900 sp=0xc000a1f6d8 pc=0x6bbf25
github.com/orgtoken/orgtoken-bot/commands.(*Service).Run(0xc000132000, {0xfa4a98, 0xc0002ae630}, {...})
	github.com/orgtoken/orgtoken-bot/commands/service.go:120 +0x1f0 fp=0xc000a1ff00 sp=0xc000a1f900 pc=0x8c6293
runtime.goexit({})
	runtime/asm_amd64.s:1771 +0x1 fp=0xc000a1ffe8 sp=0xc000a1ffe0 pc=0x4815a1
created by github.com/orgtoken/orgtoken-bot/bot.(*Bot).Run.func1 in goroutine 1
	github.com/orgtoken/orgtoken-bot/bot/bot.go:200 +0x9c

goroutine 8 gp=0xc000102540 m=nil [chan receive]:
runtime.gopark(0x0?, 0x0?, 0x0?, 0x0?, 0x0?)
	runtime/proc.go:460 +0xce fp=0xc000a3ff38 sp=0xc000a3ff18 pc=0x44a6ee
github.com/orgtoken/orgtoken-bot/commands.(*Catalog).Run(0xc000134000, {0xfa4d38, 0xc0001ae3c0}, 0xdf8475800)
	github.com/orgtoken/orgtoken-bot/commands/catalog.go:80 +0x12 fp=0xc000a3ffe0 sp=0xc000a3ff38 pc=0x8c1111
runtime.goexit({})
	runtime/asm_amd64.s:1771 +0x1 fp=0xc000a3ffe8 sp=0xc000a3ffe0 pc=0x4815a1
`

func TestStackDepthsMeasureOnlyTheGoroutinesAsked(t *testing.T) {
	t.Parallel()
	got := stackDepths(sampleDump, "/commands.(*Service).Run(")
	// goexit's fp 0xc000a1ffe8 less gopark's sp 0xc000a1f6b8.
	assert.Equal(t, []int{0xc000a1ffe8 - 0xc000a1f6b8}, got)
	assert.Len(t, stackDepths(sampleDump, "/commands."), 2)
	assert.Empty(t, stackDepths(sampleDump, "/commands.(*Service).Run(", "ListTokens("), "every call must be on the stack")
	assert.Empty(t, stackDepths("goroutine 1 [running]:\nmain.main()\n\tmain.go:3 +0x1\n", "main.main("),
		"a dump without stack pointers (GOTRACEBACK below system) measures nothing")
}

func TestStackProbeRow(t *testing.T) {
	t.Parallel()
	fits := stackProbeRow(stackProbe{depths: []int{6432, 6736}, sent: 2})
	assert.Equal(t, "6,736 B (2 of 2 commands found: 6,432 / 6,736 B)", fits.bot)
	assert.Equal(t, "PASS", fits.result)

	assert.Equal(t, "FAIL", stackProbeRow(stackProbe{depths: []int{6432, goroutineRoom + 1}, sent: 2}).result,
		"one command past the room an 8 KB stack leaves")
	assert.Equal(t, "FAIL", stackProbeRow(stackProbe{depths: []int{6432}, sent: 2}).result,
		"a command missing from the dump is not known to fit")

	unknown := stackProbeRow(stackProbe{sent: 4, err: errors.New("the bot did not exit on SIGQUIT")})
	assert.Equal(t, "n/a (the bot did not exit on SIGQUIT)", unknown.bot)
	assert.Equal(t, "n/a", unknown.result)
}
