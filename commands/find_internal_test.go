package commands

import (
	"fmt"
	"testing"

	"github.com/orgtoken/orgtoken-bot/astro"
)

// BenchmarkPickByName1000 finds one token by name among 1,000, as every change by name does
// with the organization read.
func BenchmarkPickByName1000(b *testing.B) {
	all := make([]astro.TokenSummary, 1000)
	for i := range all {
		all[i] = astro.TokenSummary{ID: fmt.Sprintf("cltk%021d", i), Name: fmt.Sprintf("airflow-deployer-for-team-%04d", i)}
	}
	s := &Service{}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.pickByName(all, "airflow-deployer-for-team-0999"); err != nil {
			b.Fatal(err)
		}
	}
}
