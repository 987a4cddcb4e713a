// Package contract validates HTTP traffic against Astronomer's published Astro API descriptions
// (iam and platform v1beta1, embedded as published) served under the v1 base path, with the
// schemas extended for the documented v1 additions. It is the referee between the bot's Astro
// client and the emulator: both are checked against the same published contract.
package contract

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

var (
	//go:embed iam-v1beta1.openapi.yaml
	iamSpec []byte
	//go:embed platform-v1beta1.openapi.yaml
	platformSpec []byte
)

// BasePath is the v1 API base the descriptions are re-based onto.
const BasePath = "/v1"

// gatewayStatuses are answered by Astro's edge (rate limiter, load balancer) rather than the
// API itself, so the descriptions do not list them; the validator lets them through unchecked.
var gatewayStatuses = map[int]bool{
	http.StatusTooManyRequests:    true,
	http.StatusBadGateway:         true,
	http.StatusServiceUnavailable: true,
	http.StatusGatewayTimeout:     true,
}

// Validator checks requests and responses against the contract. It is safe for concurrent use.
type Validator struct {
	routers []routers.Router
	opts    *openapi3filter.Options
}

// New returns the validator for the embedded descriptions, re-based on /v1 with the v1
// extensions applied. Loading them is costly and the result is immutable, so every call shares
// one instance, built on first use.
func New() (*Validator, error) { return shared() }

var shared = sync.OnceValues(build)

func build() (*Validator, error) {
	v := &Validator{opts: &openapi3filter.Options{
		IncludeResponseStatus: true,
		MultiError:            true,
		SkipSettingDefaults:   true,
		AuthenticationFunc:    bearerAuth,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.EnableFormatValidation(),
		},
	}}
	for _, spec := range []struct {
		name   string
		data   []byte
		extend func(*openapi3.T) error
	}{
		{"iam", iamSpec, extendIAM},
		{"platform", platformSpec, func(*openapi3.T) error { return nil }},
	} {
		doc, err := openapi3.NewLoader().LoadFromData(spec.data)
		if err != nil {
			return nil, fmt.Errorf("loading %s description: %w", spec.name, err)
		}
		doc.Servers = v1Servers()
		if err := mergeEquivalentPaths(doc); err != nil {
			return nil, fmt.Errorf("normalising %s description: %w", spec.name, err)
		}
		if err := spec.extend(doc); err != nil {
			return nil, fmt.Errorf("extending %s description: %w", spec.name, err)
		}
		r, err := legacy.NewRouter(doc)
		if err != nil {
			return nil, fmt.Errorf("routing %s description: %w", spec.name, err)
		}
		v.routers = append(v.routers, r)
	}
	return v, nil
}

// v1Servers matches the v1 base on any host (the emulator's loopback address as well as
// api.astronomer.io), and bare paths as a server sees them in r.URL.
func v1Servers() openapi3.Servers {
	return openapi3.Servers{
		{URL: "https://api.astronomer.io" + BasePath},
		{
			URL: "{scheme}://{host}" + BasePath,
			Variables: map[string]*openapi3.ServerVariable{
				"scheme": {Default: "http"},
				"host":   {Default: "127.0.0.1"},
			},
		},
		{URL: BasePath},
	}
}

// bearerAuth is satisfied by a non-empty bearer credential; whether the token is right is the
// server's business (a wrong token is a valid request that earns a 401).
func bearerAuth(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme := in.SecurityScheme
	if scheme == nil || scheme.Type != "http" || !strings.EqualFold(scheme.Scheme, "bearer") {
		return fmt.Errorf("unsupported security scheme %q", in.SecuritySchemeName)
	}
	kind, cred, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(kind, "Bearer") || strings.TrimSpace(cred) == "" {
		return errors.New(`missing "Authorization: Bearer <token>" header`)
	}
	return nil
}

func (v *Validator) findRoute(r *http.Request) (*routers.Route, map[string]string, error) {
	if route, params, ok := v.route(r); ok {
		return route, params, nil
	}
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch} {
		other := r.Clone(r.Context())
		other.Method = m
		if _, _, ok := v.route(other); ok {
			return nil, nil, fmt.Errorf("%s %s: method not in the contract for this path", r.Method, r.URL.Path)
		}
	}
	return nil, nil, fmt.Errorf("%s %s: no operation in the contract", r.Method, r.URL.Path)
}

func (v *Validator) route(r *http.Request) (*routers.Route, map[string]string, bool) {
	for _, rt := range v.routers {
		if route, params, err := rt.FindRoute(r); err == nil {
			return route, params, true
		}
	}
	return nil, nil, false
}

// ValidateRequest checks a request (its body passed separately, as it may already be read)
// against its operation: path, query parameters, security and body.
func (v *Validator) ValidateRequest(r *http.Request, body []byte) error {
	route, params, err := v.findRoute(r)
	if err != nil {
		return err
	}
	req := r.Clone(r.Context())
	req.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: v.opts}
	if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
		return fmt.Errorf("%s %s (%s): request: %w", r.Method, r.URL.Path, route.Operation.OperationID, err)
	}
	return nil
}

// ValidateResponse checks a response to r: the status must be documented for the operation
// (gateway statuses aside) and the body must match its schema.
func (v *Validator) ValidateResponse(r *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := v.findRoute(r)
	if err != nil {
		return err
	}
	if gatewayStatuses[status] && route.Operation.Responses.Status(status) == nil {
		return nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: v.opts},
		Status:                 status,
		Header:                 header,
		Options:                v.opts,
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(r.Context(), in); err != nil {
		return fmt.Errorf("%s %s (%s): response %d: %w", r.Method, r.URL.Path, route.Operation.OperationID, status, err)
	}
	return nil
}

// Middleware validates every request and response passing through next and hands each
// violation to report (which must be safe for concurrent use). It never changes the traffic.
// Responses whose connection is hijacked (a scripted reset) have nothing to validate.
func (v *Validator) Middleware(next http.Handler, report func(error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			report(fmt.Errorf("%s %s: reading request body: %w", r.Method, r.URL.Path, err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := v.ValidateRequest(r, body); err != nil {
			report(err)
		}
		rec := &recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.hijacked {
			return
		}
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if err := v.ValidateResponse(r, rec.status, rec.Header(), rec.body.Bytes()); err != nil {
			report(err)
		}
	})
}

// recorder passes a response through while keeping a copy for validation.
type recorder struct {
	http.ResponseWriter
	status   int
	body     bytes.Buffer
	hijacked bool
}

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
	rec.ResponseWriter.WriteHeader(status)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	rec.body.Write(p)
	return rec.ResponseWriter.Write(p)
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

func (rec *recorder) Flush() { _ = http.NewResponseController(rec.ResponseWriter).Flush() }

func (rec *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	rec.hijacked = true
	return http.NewResponseController(rec.ResponseWriter).Hijack()
}
