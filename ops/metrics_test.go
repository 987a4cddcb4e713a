package ops_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/slack-go/slack"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/orgtoken/orgtoken-bot/ops"
)

func TestMetricsExposeEveryFamilyWithItsLabels(t *testing.T) {
	t.Parallel()
	m := ops.NewMetrics()
	m.ObserveCommand("add", "ok", 300*time.Millisecond)
	m.ObserveAck(200 * time.Microsecond)
	m.SlackCallFailed("chat.postMessage", slack.SlackErrorResponse{Err: "channel_not_found"})
	m.SlackCallFailed("chat.update", &slack.RateLimitedError{RetryAfter: time.Second})
	m.SlackReconnected()
	m.SetPendingApprovals(3)
	m.SetScheduledReverts(2)
	m.TrackSlackConnected(func() bool { return true })

	fams := scrape(t, m)

	tests := []struct {
		name   string
		typ    dto.MetricType
		series map[string]float64
	}{
		{"orgtoken_commands_total", dto.MetricType_COUNTER, map[string]float64{"outcome=ok,subcommand=add": 1}},
		{"orgtoken_command_duration_seconds", dto.MetricType_HISTOGRAM, map[string]float64{"subcommand=add": 1}},
		{"orgtoken_slack_ack_seconds", dto.MetricType_HISTOGRAM, map[string]float64{"": 1}},
		{"orgtoken_slack_api_errors_total", dto.MetricType_COUNTER, map[string]float64{"error=channel_not_found,method=chat.postMessage": 1}},
		{"orgtoken_slack_rate_limited_total", dto.MetricType_COUNTER, map[string]float64{"method=chat.update": 1}},
		{"orgtoken_slack_reconnects_total", dto.MetricType_COUNTER, map[string]float64{"": 1}},
		{"orgtoken_slack_connected", dto.MetricType_GAUGE, map[string]float64{"": 1}},
		{"orgtoken_pending_approvals", dto.MetricType_GAUGE, map[string]float64{"": 3}},
		{"orgtoken_scheduled_reverts", dto.MetricType_GAUGE, map[string]float64{"": 2}},
		{"orgtoken_astro_last_response_timestamp_seconds", dto.MetricType_GAUGE, map[string]float64{"": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fam, ok := fams[tt.name]
			require.True(t, ok, "family missing from /metrics")
			assert.Equal(t, tt.typ, fam.GetType())
			assert.Equal(t, tt.series, series(fams, tt.name))
		})
	}
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		assert.Contains(t, fams, name, "runtime and process collectors are registered")
	}
}

func TestAckBucketsResolveSubMillisecondAcks(t *testing.T) {
	t.Parallel()
	m := ops.NewMetrics()
	m.ObserveAck(150 * time.Microsecond)
	fam := scrape(t, m)["orgtoken_slack_ack_seconds"]
	require.NotNil(t, fam)
	var below1ms []float64
	for _, b := range fam.GetMetric()[0].GetHistogram().GetBucket() {
		if b.GetUpperBound() < 0.001 {
			below1ms = append(below1ms, b.GetUpperBound())
			if b.GetUpperBound() >= 0.00015 {
				assert.Equal(t, uint64(1), b.GetCumulativeCount(), "bucket le=%v", b.GetUpperBound())
			}
		}
		if b.GetUpperBound() == 1 {
			assert.Equal(t, uint64(1), b.GetCumulativeCount())
		}
	}
	assert.GreaterOrEqual(t, len(below1ms), 2, "at least two buckets below 1 ms")
}

func TestObserveCommandKeepsLabelsBounded(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                string
		subcommand, outcome string
		want                string
	}{
		{"KnownVerb", "list", "info", "outcome=info,subcommand=list"},
		{"CaseFolded", "UPDATE", "OK", "outcome=ok,subcommand=update"},
		{"ButtonVerb", "approve", "ok", "outcome=ok,subcommand=approve"},
		{"EmptyIsHelp", "", "info", "outcome=info,subcommand=help"},
		// Every subcommand the bot serves (commands/defs.go, explain.go, requests.go, elevate.go).
		{"Explain", "explain", "info", "outcome=info,subcommand=explain"},
		{"Requests", "requests", "info", "outcome=info,subcommand=requests"},
		{"Cancel", "cancel", "ok", "outcome=ok,subcommand=cancel"},
		{"RevertNow", "revert-now", "ok", "outcome=ok,subcommand=revert-now"},
		{"TypoIsOther", "ad", "refused", "outcome=refused,subcommand=other"},
		{"UserTextIsOther", "'; DROP TABLE tokens", "error", "outcome=error,subcommand=other"},
		{"UnknownOutcomeIsOther", "show", "exploded", "outcome=other,subcommand=show"},
		{"Busy", "remove", "busy", "outcome=busy,subcommand=remove"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := ops.NewMetrics()
			m.ObserveCommand(tt.subcommand, tt.outcome, time.Second)
			fams := scrape(t, m)
			assert.Equal(t, map[string]float64{tt.want: 1}, series(fams, "orgtoken_commands_total"))
		})
	}
}

func TestManyDistinctSubcommandsShareOneSeries(t *testing.T) {
	t.Parallel()
	m := ops.NewMetrics()
	for i := range 500 {
		m.ObserveCommand(fmt.Sprintf("junk%d", i), "refused", time.Millisecond)
	}
	fams := scrape(t, m)
	assert.Equal(t, map[string]float64{"outcome=refused,subcommand=other": 500}, series(fams, "orgtoken_commands_total"))
	assert.Equal(t, map[string]float64{"subcommand=other": 500}, series(fams, "orgtoken_command_duration_seconds"))
}

func TestSlackCallFailedClassifiesErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		method      string
		err         error
		errors      map[string]float64
		rateLimited map[string]float64
	}{
		{"SlackErrorCode", "chat.postEphemeral", slack.SlackErrorResponse{Err: "not_in_channel"},
			map[string]float64{"error=not_in_channel,method=chat.postEphemeral": 1}, map[string]float64{}},
		{"WrappedSlackErrorCode", "chat.postMessage", fmt.Errorf("post: %w", slack.SlackErrorResponse{Err: "is_archived"}),
			map[string]float64{"error=is_archived,method=chat.postMessage": 1}, map[string]float64{}},
		{"ProseIsNotACode", "chat.postMessage", slack.SlackErrorResponse{Err: "Something broke at 10.0.0.7"},
			map[string]float64{"error=other,method=chat.postMessage": 1}, map[string]float64{}},
		{"HTTPStatus", "response_url", slack.StatusCodeError{Code: 500, Status: "500 Internal Server Error"},
			map[string]float64{"error=http_500,method=response_url": 1}, map[string]float64{}},
		{"RateLimitedError", "usergroups.users.list", &slack.RateLimitedError{RetryAfter: 30 * time.Second},
			map[string]float64{}, map[string]float64{"method=usergroups.users.list": 1}},
		{"HTTP429", "response_url", slack.StatusCodeError{Code: 429, Status: "429 Too Many Requests"},
			map[string]float64{}, map[string]float64{"method=response_url": 1}},
		{"Timeout", "chat.update", fmt.Errorf("post: %w", context.DeadlineExceeded),
			map[string]float64{"error=timeout,method=chat.update": 1}, map[string]float64{}},
		{"NetworkError", "chat.update", errors.New("dial tcp 10.1.2.3:443: connect: connection refused"),
			map[string]float64{"error=transport_error,method=chat.update": 1}, map[string]float64{}},
		// The bot opens its change and confirm modals with views.open (bot/modal.go, bot/confirm.go).
		{"ModalMethod", "views.open", slack.SlackErrorResponse{Err: "expired_trigger_id"},
			map[string]float64{"error=expired_trigger_id,method=views.open": 1}, map[string]float64{}},
		{"UnknownMethod", "admin.users.invite", slack.SlackErrorResponse{Err: "not_allowed"},
			map[string]float64{"error=not_allowed,method=other": 1}, map[string]float64{}},
		{"NilErrorRecordsNothing", "chat.postMessage", nil, map[string]float64{}, map[string]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := ops.NewMetrics()
			m.SlackCallFailed(tt.method, tt.err)
			fams := scrape(t, m)
			assert.Equal(t, tt.errors, series(fams, "orgtoken_slack_api_errors_total"))
			assert.Equal(t, tt.rateLimited, series(fams, "orgtoken_slack_rate_limited_total"))
		})
	}
}

func TestConnectedGaugeFollowsTheBot(t *testing.T) {
	t.Parallel()
	m := ops.NewMetrics()
	assert.Equal(t, map[string]float64{"": 0}, series(scrape(t, m), "orgtoken_slack_connected"), "untracked reads as down")

	var up atomic.Bool
	m.TrackSlackConnected(up.Load)
	assert.Equal(t, map[string]float64{"": 0}, series(scrape(t, m), "orgtoken_slack_connected"))
	up.Store(true)
	assert.Equal(t, map[string]float64{"": 1}, series(scrape(t, m), "orgtoken_slack_connected"))
}

func TestMetricsInstancesAreIndependent(t *testing.T) {
	t.Parallel()
	a, b := ops.NewMetrics(), ops.NewMetrics()
	a.SlackReconnected()
	assert.Equal(t, map[string]float64{"": 1}, series(scrape(t, a), "orgtoken_slack_reconnects_total"))
	assert.Equal(t, map[string]float64{"": 0}, series(scrape(t, b), "orgtoken_slack_reconnects_total"))
}
