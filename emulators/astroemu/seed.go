package astroemu

import (
	"fmt"
	"time"
)

// IDs of the sample organization SeedSample creates.
const (
	SampleWorkspaceDataPlatform = "clwsdataplatform000000001"
	SampleWorkspaceAnalytics    = "clwsanalytics000000000002"
	SampleWorkspaceMLOps        = "clwsmlops0000000000000003"
	SampleWorkspaceSandbox      = "clwssandbox00000000000004"
	SampleDeploymentFeatures    = "cldpfeaturestore000000001"
	SampleDeploymentReporting   = "cldpreporting000000000002"

	SampleTokenCIDeployer      = "cltkairflowcideployer0001" // org token, author/operator in two workspaces
	SampleTokenDBTSync         = "cltkdbtcloudsync000000002" // org token, member of Analytics, expires
	SampleTokenTerraform       = "cltkterraformautomation03" // organization role only (owner)
	SampleTokenBillingExport   = "cltkbillingexport00000004" // billing admin only, never used
	SampleTokenMLFeatures      = "cltkmlfeaturepipeline0005" // workspace owner plus a deployment role
	SampleTokenDAGReporting    = "cltkdagviewerreporting006" // DAG and DAG tag roles
	SampleTokenCIFirst         = "cltkcitokensandbox0000007" // named "ci-token"
	SampleTokenCISecond        = "cltkcitokendataplatform08" // also named "ci-token"
	SampleTokenChannelAlerts   = "cltkchannelalerts00000009" // name with <!channel> and &
	SampleTokenAnalyticsWS     = "cltkanalyticsworkspace010" // WORKSPACE-type token of Analytics
	SampleTokenLegacyETL       = "cltklegacyetl000000000011" // expired
	SampleTokenFeatureDeploy   = "cltkfeaturestoredeploy012" // DEPLOYMENT-type token
	SampleTokenSandboxPlayroom = "cltksandboxexperiments013" // organization member, no workspace yet
)

func sampleUser(id, username, fullName string) Subject {
	return Subject{
		ID: id, SubjectType: SubjectUser, Username: username, FullName: fullName,
		AvatarURL: "https://avatars.example.com/" + id + ".png",
	}
}

func sampleKey(id, tokenName string) Subject {
	return Subject{ID: id, SubjectType: SubjectServiceKey, APITokenName: tokenName}
}

var (
	samplePriya  = sampleUser("clusrpriyaraman0000000001", "priya.raman@example.com", "Priya Raman")
	sampleMarcus = sampleUser("clusrmarcuschen0000000002", "marcus.chen@example.com", "Marcus Chen")
	sampleJo     = sampleUser("clusrjookafor000000000003", "jo.okafor@example.com", "Jo Okafor")
	sampleTFKey  = sampleKey(SampleTokenTerraform, "terraform-automation")
)

func day(y int, m time.Month, d, h int) time.Time { return time.Date(y, m, d, h, 0, 0, 0, time.UTC) }

// SeedSample fills the organization with a small, realistic sandbox: four workspaces and
// thirteen tokens covering every shape the bot meets (see the Sample* constants). Fixed dates
// keep it deterministic; "expired" and "valid" are far enough from today to stay so.
func (s *Server) SeedSample() {
	org := s.opts.OrganizationID
	for _, ws := range []Workspace{
		{ID: SampleWorkspaceDataPlatform, Name: "Data Platform", Description: "Shared ingestion and warehouse loading pipelines", CICDEnforcedDefault: true, CreatedAt: day(2024, 2, 5, 9), CreatedBy: samplePriya},
		{ID: SampleWorkspaceAnalytics, Name: "Analytics", Description: "dbt models and BI extracts", CreatedAt: day(2024, 2, 12, 14), CreatedBy: sampleMarcus},
		{ID: SampleWorkspaceMLOps, Name: "ML Ops", Description: "Feature store and model training DAGs", CICDEnforcedDefault: true, CreatedAt: day(2024, 4, 1, 10), CreatedBy: sampleJo},
		{ID: SampleWorkspaceSandbox, Name: "Sandbox", Description: "Experiments; anything here may be deleted", CreatedAt: day(2024, 6, 20, 16), CreatedBy: samplePriya},
	} {
		s.AddWorkspace(ws)
	}
	orgRole := func(role string) Role { return Role{EntityType: EntityOrganization, EntityID: org, Role: role} }
	wsRole := func(ws, role string) Role { return Role{EntityType: EntityWorkspace, EntityID: ws, Role: role} }
	member := orgRole(RoleOrganizationMember)
	for _, t := range []Token{
		{ID: SampleTokenCIDeployer, Name: "airflow-ci-deployer", Description: "GitHub Actions deploys for the data platform repos",
			CreatedAt: day(2024, 3, 1, 10), CreatedBy: samplePriya, UpdatedAt: day(2025, 5, 2, 11), UpdatedBy: sampleMarcus,
			LastUsedAt: day(2025, 11, 3, 7),
			Roles:      []Role{member, wsRole(SampleWorkspaceDataPlatform, RoleWorkspaceAuthor), wsRole(SampleWorkspaceAnalytics, RoleWorkspaceOperator)}},
		{ID: SampleTokenDBTSync, Name: "dbt-cloud-sync", Description: "Triggers dbt Cloud jobs after loads finish",
			CreatedAt: day(2024, 3, 15, 13), CreatedBy: sampleMarcus, ExpiryPeriodInDays: 365, EndAt: day(2030, 3, 15, 13),
			LastUsedAt: day(2025, 10, 28, 22),
			Roles:      []Role{member, wsRole(SampleWorkspaceAnalytics, RoleWorkspaceMember)}},
		{ID: SampleTokenTerraform, Name: "terraform-automation", Description: "Manages workspaces and deployments from the infra repo",
			CreatedAt: day(2024, 1, 20, 8), CreatedBy: sampleJo, LastUsedAt: day(2025, 11, 1, 3),
			Roles: []Role{orgRole(RoleOrganizationOwner)}},
		{ID: SampleTokenBillingExport, Name: "billing-export", Description: "Monthly usage export to finance",
			CreatedAt: day(2024, 5, 2, 9), CreatedBy: sampleMarcus,
			Roles: []Role{orgRole(RoleOrganizationBillingAdmin)}},
		{ID: SampleTokenMLFeatures, Name: "ml-feature-pipeline", Description: "Feature store refresh and model retraining",
			CreatedAt: day(2024, 4, 3, 15), CreatedBy: sampleJo, ExpiryPeriodInDays: 180, EndAt: day(2030, 1, 1, 0), LastUsedAt: day(2025, 11, 2, 18),
			Roles: []Role{member, wsRole(SampleWorkspaceMLOps, RoleWorkspaceOwner),
				{EntityType: EntityDeployment, EntityID: SampleDeploymentFeatures, Role: RoleDeploymentAdmin}}},
		{ID: SampleTokenDAGReporting, Name: "dag-viewer-reporting", Description: "Read-only access to the revenue reports",
			CreatedAt: day(2024, 7, 8, 12), CreatedBy: sampleTFKey, LastUsedAt: day(2025, 9, 30, 6),
			Roles: []Role{member,
				{EntityType: EntityDAG, EntityID: "daily_revenue_report", Role: RoleDAGViewer, DeploymentID: SampleDeploymentReporting},
				{EntityType: EntityDAGTag, EntityID: "finance", Role: RoleDAGViewer, DeploymentID: SampleDeploymentReporting}}},
		{ID: SampleTokenCIFirst, Name: "ci-token", Description: "Sandbox CI (owned by the platform team)",
			CreatedAt: day(2024, 8, 1, 9), CreatedBy: samplePriya,
			Roles: []Role{member, wsRole(SampleWorkspaceSandbox, RoleWorkspaceMember)}},
		{ID: SampleTokenCISecond, Name: "ci-token", Description: "Data platform CI (owned by the ingestion team)",
			CreatedAt: day(2024, 8, 2, 9), CreatedBy: sampleTFKey, LastUsedAt: day(2025, 11, 3, 6),
			Roles: []Role{member, wsRole(SampleWorkspaceDataPlatform, RoleWorkspaceAuthor)}},
		{ID: SampleTokenChannelAlerts, Name: "<!channel> alerts & paging", Description: "Pages on-call when <DAG> SLAs & freshness checks fail",
			CreatedAt: day(2024, 9, 9, 9), CreatedBy: sampleMarcus, LastUsedAt: day(2025, 11, 3, 5),
			Roles: []Role{member, wsRole(SampleWorkspaceAnalytics, RoleWorkspaceAccessor)}},
		{ID: SampleTokenAnalyticsWS, Name: "analytics-workspace-token", Description: "Workspace-scoped token used by Looker",
			Type: TypeWorkspace, CreatedAt: day(2024, 10, 1, 10), CreatedBy: sampleMarcus, LastUsedAt: day(2025, 11, 2, 9),
			Roles: []Role{wsRole(SampleWorkspaceAnalytics, RoleWorkspaceOperator)}},
		{ID: SampleTokenLegacyETL, Name: "legacy-etl", Description: "Old cron-based ETL; expired, kept for audit",
			CreatedAt: day(2023, 11, 1, 10), CreatedBy: samplePriya, ExpiryPeriodInDays: 90, EndAt: day(2024, 1, 30, 10),
			LastUsedAt: day(2024, 1, 29, 23),
			Roles:      []Role{member, wsRole(SampleWorkspaceDataPlatform, RoleWorkspaceAuthor)}},
		{ID: SampleTokenFeatureDeploy, Name: "feature-store-deploy", Description: "Deployment-scoped deploy key",
			Type: TypeDeployment, CreatedAt: day(2024, 11, 11, 11), CreatedBy: sampleJo,
			Roles: []Role{{EntityType: EntityDeployment, EntityID: SampleDeploymentFeatures, Role: RoleDeploymentAdmin}}},
		{ID: SampleTokenSandboxPlayroom, Name: "sandbox-experiments", Description: "",
			CreatedAt: day(2025, 1, 6, 15), CreatedBy: sampleTFKey, UpdatedAt: day(2025, 2, 1, 10), UpdatedBy: samplePriya,
			Roles: []Role{member}},
	} {
		if t.UpdatedBy.ID == "" {
			t.UpdatedBy = t.CreatedBy
		}
		s.AddToken(t)
	}
}

var (
	largeTeams    = []string{"ingest", "finance", "growth", "ml", "platform", "search", "risk", "ops"}
	largePurposes = []string{"ci", "deploy", "sync", "backfill", "monitor", "export", "sensor", "dbt"}
	largeRoles    = []string{RoleWorkspaceMember, RoleWorkspaceAuthor, RoleWorkspaceOperator, RoleWorkspaceOwner, RoleWorkspaceAccessor}
)

// SeedLarge adds n generated tokens spread over workspaceIDs (unknown IDs are created; with none,
// eight workspaces are). The same arguments always produce the same tokens: IDs, names, dates
// and roles derive from the token's index. One token in twenty is workspace-scoped, one in fifty
// repeats the previous name, and about a third have expired or never been used.
func (s *Server) SeedLarge(n int, workspaceIDs ...string) {
	base := day(2022, 1, 1, 0)
	if len(workspaceIDs) == 0 {
		for i := range 8 {
			workspaceIDs = append(workspaceIDs, fmtID("clwslarge", uint64(i+1)))
		}
	}
	for i, id := range workspaceIDs {
		if _, ok := s.workspace(id); !ok {
			s.AddWorkspace(Workspace{ID: id, Name: fmt.Sprintf("Workspace %02d", i+1), CreatedAt: base.Add(time.Duration(i) * time.Hour)})
		}
	}
	org := s.opts.OrganizationID
	tokens := make([]Token, 0, n)
	name := ""
	for i := range n {
		r := splitmix(uint64(i) + 1)
		if i%50 != 49 || name == "" {
			name = fmt.Sprintf("%s-%s-%04d", largeTeams[r%8], largePurposes[(r>>3)%8], i)
		}
		created := base.Add(time.Duration(i) * 7 * time.Minute)
		t := Token{
			ID: fmtID("cltklarge", uint64(i+1)), Name: name,
			Description: fmt.Sprintf("Generated token %d for the %s team", i, largeTeams[r%8]),
			CreatedAt:   created, CreatedBy: sampleUser(fmtID("clusrlarge", r%40+1), fmt.Sprintf("user%02d@example.com", r%40+1), fmt.Sprintf("User %02d", r%40+1)),
		}
		t.UpdatedBy = t.CreatedBy
		switch (r >> 6) % 3 {
		case 0:
			t.ExpiryPeriodInDays, t.EndAt = 30, created.AddDate(0, 0, 30) // long expired
		case 1:
			t.LastUsedAt = created.AddDate(0, 1, 0)
		}
		ws := workspaceIDs[(r>>8)%uint64(len(workspaceIDs))]
		if i%20 == 19 {
			t.Type = TypeWorkspace
			t.Roles = []Role{{EntityType: EntityWorkspace, EntityID: ws, Role: largeRoles[(r>>11)%5]}}
		} else {
			orgRole := RoleOrganizationMember
			if i%97 == 0 {
				orgRole = RoleOrganizationOwner
			}
			t.Roles = []Role{{EntityType: EntityOrganization, EntityID: org, Role: orgRole}}
			k := int((r >> 14) % 4)
			for j := range min(k, len(workspaceIDs)) {
				w := workspaceIDs[(int((r>>8)%uint64(len(workspaceIDs)))+j)%len(workspaceIDs)]
				t.Roles = append(t.Roles, Role{EntityType: EntityWorkspace, EntityID: w, Role: largeRoles[(r>>(17+uint(j)*3))%5]})
			}
		}
		tokens = append(tokens, s.withDefaults(t))
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	for _, t := range tokens {
		s.st.putTokenLocked(t)
	}
}

func (s *Server) workspace(id string) (Workspace, bool) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	ws, ok := s.st.workspaces[id]
	return ws, ok
}

// splitmix is a tiny deterministic mixer so generated data varies without math/rand state.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
