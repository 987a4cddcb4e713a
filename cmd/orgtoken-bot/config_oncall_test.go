package main

import (
	"testing"
	"time"

	"github.com/sethvargo/go-envconfig"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRevertSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		env        map[string]string
		wantEvery  time.Duration
		wantMin    time.Duration
		wantErrors []string
	}{
		{name: "Defaults", env: fullEnv(), wantEvery: 30 * time.Second, wantMin: 30 * time.Minute},
		{name: "TestsShortenBoth", env: with(fullEnv(), map[string]string{"ORGTOKEN_REVERT_INTERVAL": "200ms", "ORGTOKEN_MIN_ELEVATION": "1s"}),
			wantEvery: 200 * time.Millisecond, wantMin: time.Second},
		{name: "OutOfRange", env: with(fullEnv(), map[string]string{"ORGTOKEN_REVERT_INTERVAL": "0s", "ORGTOKEN_MIN_ELEVATION": "2h"}),
			wantErrors: []string{"ORGTOKEN_REVERT_INTERVAL", "ORGTOKEN_MIN_ELEVATION"}},
		{name: "NotADuration", env: with(fullEnv(), map[string]string{"ORGTOKEN_REVERT_INTERVAL": "often"}),
			wantErrors: []string{`ORGTOKEN_REVERT_INTERVAL: "often" must be a duration`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, ok := loadConfigCase(t, tt.env, tt.wantErrors)
			if !ok {
				return
			}
			assert.Equal(t, tt.wantEvery, c.RevertInterval)
			assert.Equal(t, tt.wantMin, c.MinElevation)
		})
	}
}

func TestDriftSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		env        map[string]string
		wantEvery  time.Duration
		wantErrors []string
	}{
		{name: "OffByDefault", env: fullEnv()},
		{name: "On", env: with(fullEnv(), map[string]string{"ORGTOKEN_DRIFT_INTERVAL": "10m", "ORGTOKEN_DRIFT_CHANNEL": "C0DRIFT01"}), wantEvery: 10 * time.Minute},
		{name: "NeedsAChannel", env: with(fullEnv(), map[string]string{"ORGTOKEN_DRIFT_INTERVAL": "10m"}),
			wantErrors: []string{"ORGTOKEN_DRIFT_CHANNEL must be set"}},
		{name: "BadChannel", env: with(fullEnv(), map[string]string{"ORGTOKEN_DRIFT_INTERVAL": "10m", "ORGTOKEN_DRIFT_CHANNEL": "#drift"}),
			wantErrors: []string{`ORGTOKEN_DRIFT_CHANNEL: "#drift" is not a Slack channel ID`}},
		{name: "BadInterval", env: with(fullEnv(), map[string]string{"ORGTOKEN_DRIFT_INTERVAL": "48h", "ORGTOKEN_DRIFT_CHANNEL": "C0DRIFT01"}),
			wantErrors: []string{"ORGTOKEN_DRIFT_INTERVAL"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, ok := loadConfigCase(t, tt.env, tt.wantErrors)
			if !ok {
				return
			}
			assert.Equal(t, tt.wantEvery, c.DriftInterval)
		})
	}
}

// loadConfigCase loads env and, when wantErrors is set, asserts the load failed naming each of
// them; it reports whether there is a config to check further.
func loadConfigCase(t *testing.T, env map[string]string, wantErrors []string) (*config, bool) {
	t.Helper()
	c, err := loadConfig(t.Context(), envconfig.MapLookuper(env))
	if len(wantErrors) > 0 {
		require.Error(t, err)
		for _, want := range wantErrors {
			assert.Contains(t, err.Error(), want)
		}
		return c, false
	}
	require.NoError(t, err)
	return c, true
}
