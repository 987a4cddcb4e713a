package commands_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/orgtoken/orgtoken-bot/emulators/astroemu"
)

// TestExplainVerbIgnoresCase: verbs ignore case everywhere, so the change explain is asked
// about does too.
func TestExplainVerbIgnoresCase(t *testing.T) {
	t.Parallel()
	e := newApprovalEnv(t)
	tests := []struct {
		name, user, text, title string
		want                    string
	}{
		{name: "Capitalised", user: admin, text: "explain Update " + astroemu.SampleTokenCIDeployer + " -r owner",
			title: "You may do this directly.", want: "policy rule 2 (admins-direct)"},
		{name: "Upper", user: alice, text: "explain REMOVE -n airflow-ci-deployer",
			title: "You may ask for this; it needs approval.", want: "Remove airflow-ci-deployer"},
		{name: "RemoveStillTakesNoRole", user: alice, text: "explain Remove " + astroemu.SampleTokenCIDeployer + " -r owner",
			title: "remove takes no --role: it removes whatever role the token has in the workspace.", want: "Usage: `/orgtoken explain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.runAs(t, tt.user, tt.text)
			assert.Equal(t, tt.title, r.Title, text(r))
			assert.Contains(t, text(r), tt.want)
		})
	}
}
