package contract

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

var pathVariable = regexp.MustCompile(`\{[^}]+\}`)

// mergeEquivalentPaths fixes a flaw in the published iam description: it declares
// /organizations/{organizationId}/roles/{roleId} (GET) and .../roles/{customRoleId} (POST,
// DELETE), the same template with different variable names, which OpenAPI forbids and the
// router refuses. The later path's operations move under the first spelling, their path
// parameters renamed, so every published operation stays routable.
func mergeEquivalentPaths(doc *openapi3.T) error {
	paths := doc.Paths.InMatchingOrder()
	slices.Sort(paths)
	canonical := map[string]string{}
	for _, path := range paths {
		key := pathVariable.ReplaceAllString(path, "{}")
		target, seen := canonical[key]
		if !seen {
			canonical[key] = path
			continue
		}
		if err := mergePath(doc, path, target); err != nil {
			return err
		}
	}
	return nil
}

func mergePath(doc *openapi3.T, from, to string) error {
	rename := map[string]string{}
	fromVars, toVars := pathVariable.FindAllString(from, -1), pathVariable.FindAllString(to, -1)
	for i, v := range fromVars {
		rename[v[1:len(v)-1]] = toVars[i][1 : len(toVars[i])-1]
	}
	src, dst := doc.Paths.Value(from), doc.Paths.Value(to)
	for method, op := range src.Operations() {
		if dst.GetOperation(method) != nil {
			return fmt.Errorf("paths %s and %s both define %s", from, to, method)
		}
		op.Parameters = renameParameters(op.Parameters, rename)
		dst.SetOperation(method, op)
	}
	dst.Parameters = append(dst.Parameters, renameParameters(src.Parameters, rename)...)
	doc.Paths.Delete(from)
	return nil
}

func renameParameters(params openapi3.Parameters, rename map[string]string) openapi3.Parameters {
	out := make(openapi3.Parameters, 0, len(params))
	for _, p := range params {
		if p == nil || p.Value == nil || p.Value.In != openapi3.ParameterInPath || rename[p.Value.Name] == "" {
			out = append(out, p)
			continue
		}
		renamed := *p.Value
		renamed.Name = rename[p.Value.Name]
		out = append(out, &openapi3.ParameterRef{Value: &renamed})
	}
	return out
}
