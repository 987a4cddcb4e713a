package commands_test

import (
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
	"github.com/orgtoken/orgtoken-bot/policy"
	"github.com/orgtoken/orgtoken-bot/reply/blockkit"
)

var update = flag.Bool("update", false, "rewrite testdata/blockkit/*.golden.json")

// TestGoldenBlockKit pins the Slack rendering of each kind of reply.
func TestGoldenBlockKit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		text  string
		setup func(e *env)
	}{
		{name: "help", text: ""},
		{name: "help-verb", text: "help add"},
		{name: "list", text: "list -w " + wsAna},
		{name: "list-large", text: "list -w " + wsSand + " --page 2", setup: func(e *env) { e.emu.SeedLarge(2000, wsSand) }},
		{name: "show", text: "show cltkchannelalerts00000009"},
		{name: "added", text: "add -n dbt-cloud-sync --role operator"},
		{name: "updated", text: "update cltkchannelalerts00000009 -r member -w " + wsAna},
		{name: "removed", text: "remove cltkairflowcideployer0001"},
		{name: "nothing-to-do", text: "add cltkairflowcideployer0001 -r author"},
		{name: "conflict", text: "add cltkairflowcideployer0001 -r owner"},
		{name: "parse-error", text: "add tok --rol member"},
		{name: "ambiguous", text: "update -n ci-token -r owner"},
		{name: "not-found", text: "add -n Airflow-CI-Deployer -r member"},
		{name: "denied", text: "update cltkairflowcideployer0001 -r owner", setup: func(e *env) {
			e.auth.decision = policy.Decision{Reason: "only <!subteam^S1> may grant owner & operator"}
		}},
		{name: "needs-approval", text: "update cltkairflowcideployer0001 -r owner", setup: func(e *env) {
			e.auth.decision = policy.Decision{Allowed: true, Approval: &policy.Approval{Approvers: []string{"platform-admins"}, Count: 1, Channel: "C0APPROVE"}}
		}},
		{name: "rate-limited", text: "list", setup: func(e *env) {
			e.emu.ScriptFaults(astroemu.EndpointListTokens, astroemu.Fault{Status: http.StatusTooManyRequests, RetryAfter: 30e9})
		}},
		{name: "outcome-confirmed", text: "update cltkairflowcideployer0001 -r owner", setup: func(e *env) {
			e.emu.ScriptFaults(astroemu.EndpointUpdateRoles, astroemu.Fault{ApplyFirst: true, Status: http.StatusBadGateway})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if tt.setup != nil {
				tt.setup(e)
			}
			r := e.run(t, tt.text)
			blocks, fallback := blockkit.Render(r)
			got, err := json.MarshalIndent(struct {
				Text   string `json:"text"`
				Blocks any    `json:"blocks"`
			}{fallback, blocks}, "", "  ")
			require.NoError(t, err)
			// Request IDs differ between runs.
			got = []byte(requestIDs.ReplaceAllString(string(got), "emu-REQUEST"))
			path := filepath.Join("testdata", "blockkit", tt.name+".golden.json")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
				require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run go test ./commands -run TestGoldenBlockKit -update")
			assert.Equal(t, strings.TrimSpace(string(want)), string(got))
		})
	}
}
