package contract

import (
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
)

// extendIAM adds the documented v1 additions to the iam v1beta1 schemas. It only adds: nothing
// published is removed or loosened, except that entityType gains the v1 DAG entity types.
//
//   - ApiTokenRole.deploymentId, and entityType DAG / DAG_TAG: DAG roles name their deployment.
//   - ApiToken.kind: STANDARD or DIRECT_ACCESS.
//   - SubjectRoles.dagRoles: items DagRole {deploymentId, dagId | dagTag, role}.
//
// ApiTokenRole and UpdateApiTokenRolesRequest are also closed (additionalProperties: false) so a
// misspelt field such as "deploymentID" in a role update is reported instead of silently ignored.
func extendIAM(doc *openapi3.T) error {
	schemas := doc.Components.Schemas
	get := func(name string) (*openapi3.Schema, error) {
		ref, ok := schemas[name]
		if !ok || ref.Value == nil {
			return nil, fmt.Errorf("schema %s missing from the description", name)
		}
		return ref.Value, nil
	}

	role, err := get("ApiTokenRole")
	if err != nil {
		return err
	}
	role.Properties["deploymentId"] = described(openapi3.NewStringSchema(),
		"v1: the Deployment containing the DAG; required when entityType is DAG or DAG_TAG.").NewRef()
	entityType := role.Properties["entityType"]
	if entityType == nil || entityType.Value == nil {
		return fmt.Errorf("ApiTokenRole.entityType missing from the description")
	}
	entityType.Value.Enum = append(entityType.Value.Enum, "DAG", "DAG_TAG")
	closeSchema(role)

	req, err := get("UpdateApiTokenRolesRequest")
	if err != nil {
		return err
	}
	closeSchema(req)

	token, err := get("ApiToken")
	if err != nil {
		return err
	}
	token.Properties["kind"] = described(openapi3.NewStringSchema().WithEnum("STANDARD", "DIRECT_ACCESS"),
		"v1: the kind of the API token.").NewRef()

	subject, err := get("SubjectRoles")
	if err != nil {
		return err
	}
	dagRole := openapi3.NewObjectSchema().
		WithProperty("deploymentId", openapi3.NewStringSchema()).
		WithProperty("dagId", openapi3.NewStringSchema()).
		WithProperty("dagTag", openapi3.NewStringSchema()).
		WithProperty("role", openapi3.NewStringSchema())
	dagRole.Required = []string{"deploymentId", "role"}
	dagRole.Description = "v1: a DAG role, scoped to one DAG (dagId) or to DAGs with a tag (dagTag)."
	schemas["DagRole"] = &openapi3.SchemaRef{Value: dagRole}
	subject.Properties["dagRoles"] = described(openapi3.NewArraySchema().WithItems(dagRole),
		"v1: the subject's DAG roles.").NewRef()
	return nil
}

func closeSchema(s *openapi3.Schema) {
	closed := false
	s.AdditionalProperties = openapi3.AdditionalProperties{Has: &closed}
}

func described(s *openapi3.Schema, description string) *openapi3.Schema {
	s.Description = description
	return s
}
