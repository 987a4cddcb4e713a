package ops_test

// These tests guard the files under deploy/: they are not compiled or applied anywhere else, so
// a typo there would otherwise surface only in someone's cluster.

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/orgtoken/orgtoken-bot/ops"
	"github.com/orgtoken/orgtoken-bot/policy"
)

const deployDir = "../deploy"

func TestDeployPolicyExampleIsValid(t *testing.T) {
	t.Parallel()
	_, err := policy.Load(filepath.Join(deployDir, "policy.example.yaml"))
	assert.NoError(t, err)
}

func TestDeployConfigMapPolicyIsValid(t *testing.T) {
	t.Parallel()
	var cm struct {
		Kind string            `yaml:"kind"`
		Data map[string]string `yaml:"data"`
	}
	decodeFile(t, filepath.Join(deployDir, "kubernetes", "configmap-policy.yaml"), &cm)
	require.Equal(t, "ConfigMap", cm.Kind)
	src, ok := cm.Data["policy.yaml"]
	require.True(t, ok, "the Deployment mounts key policy.yaml")
	_, err := policy.Parse([]byte(src), "configmap-policy.yaml")
	assert.NoError(t, err)
}

func TestDeployYAMLFilesParse(t *testing.T) {
	t.Parallel()
	var files []string
	err := filepath.WalkDir(deployDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, path)
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		t.Run(strings.TrimPrefix(f, deployDir+"/"), func(t *testing.T) {
			t.Parallel()
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			dec := yaml.NewDecoder(bytes.NewReader(data))
			docs := 0
			for {
				var doc map[string]any
				err := dec.Decode(&doc)
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				assert.NotEmpty(t, doc, "document %d is empty", docs+1)
				docs++
			}
			assert.Positive(t, docs)
		})
	}
}

func TestKustomizationListsEveryManifestButTheSecretTemplate(t *testing.T) {
	t.Parallel()
	var k struct {
		Resources []string `yaml:"resources"`
	}
	dir := filepath.Join(deployDir, "kubernetes")
	decodeFile(t, filepath.Join(dir, "kustomization.yaml"), &k)
	for _, r := range k.Resources {
		assert.FileExists(t, filepath.Join(dir, r))
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		name := e.Name()
		switch {
		case name == "kustomization.yaml":
		case name == "secret.example.yaml":
			assert.NotContains(t, k.Resources, name, "applying must never overwrite the real Secret with placeholders")
		default:
			assert.Contains(t, k.Resources, name, "manifest not applied by kustomize")
		}
	}
}

// k8sProbe and friends are the few Deployment fields the checks below read.
type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sDeployment struct {
	Spec struct {
		Replicas int `yaml:"replicas"`
		Template struct {
			Spec struct {
				SecurityContext struct {
					RunAsNonRoot   bool `yaml:"runAsNonRoot"`
					RunAsUser      int  `yaml:"runAsUser"`
					SeccompProfile struct {
						Type string `yaml:"type"`
					} `yaml:"seccompProfile"`
				} `yaml:"securityContext"`
				Containers []struct {
					Ports []struct {
						Name          string `yaml:"name"`
						ContainerPort int    `yaml:"containerPort"`
					} `yaml:"ports"`
					Env []struct {
						Name      string         `yaml:"name"`
						Value     string         `yaml:"value"`
						ValueFrom map[string]any `yaml:"valueFrom"`
					} `yaml:"env"`
					LivenessProbe   k8sProbe `yaml:"livenessProbe"`
					ReadinessProbe  k8sProbe `yaml:"readinessProbe"`
					StartupProbe    k8sProbe `yaml:"startupProbe"`
					SecurityContext struct {
						AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
						ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
						Capabilities             struct {
							Drop []string `yaml:"drop"`
						} `yaml:"capabilities"`
					} `yaml:"securityContext"`
					VolumeMounts []struct {
						MountPath string `yaml:"mountPath"`
						ReadOnly  bool   `yaml:"readOnly"`
					} `yaml:"volumeMounts"`
				} `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

func TestDeploymentProbesHitTheOpsEndpoints(t *testing.T) {
	t.Parallel()
	var d k8sDeployment
	decodeFile(t, filepath.Join(deployDir, "kubernetes", "deployment.yaml"), &d)
	require.Len(t, d.Spec.Template.Spec.Containers, 1)
	c := d.Spec.Template.Spec.Containers[0]
	require.Len(t, c.Ports, 1)
	assert.Equal(t, 8080, c.Ports[0].ContainerPort, "ORGTOKEN_HTTP_ADDR defaults to :8080")

	h := ops.Handler(ops.Config{Metrics: ops.NewMetrics(), Logger: quietLogger()})
	for _, p := range []struct {
		name  string
		probe k8sProbe
		want  string
	}{
		{"liveness", c.LivenessProbe, "/healthz"},
		{"startup", c.StartupProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
	} {
		assert.Equal(t, p.want, p.probe.HTTPGet.Path, p.name)
		assert.Equal(t, c.Ports[0].Name, p.probe.HTTPGet.Port, p.name)
		code, _ := get(t, h, p.probe.HTTPGet.Path)
		assert.Equal(t, http.StatusOK, code, "%s probe path is served", p.name)
	}

	var svc struct {
		Spec struct {
			Ports []struct {
				Name       string `yaml:"name"`
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	decodeFile(t, filepath.Join(deployDir, "kubernetes", "service.yaml"), &svc)
	require.Len(t, svc.Spec.Ports, 1)
	assert.Equal(t, "http-metrics", svc.Spec.Ports[0].Name)
	assert.Equal(t, c.Ports[0].Name, svc.Spec.Ports[0].TargetPort)
}

func TestDeploymentIsHardenedAndKeepsSecretsInTheSecret(t *testing.T) {
	t.Parallel()
	var d k8sDeployment
	decodeFile(t, filepath.Join(deployDir, "kubernetes", "deployment.yaml"), &d)
	pod := d.Spec.Template.Spec
	require.Len(t, pod.Containers, 1)
	c := pod.Containers[0]

	assert.Equal(t, 2, d.Spec.Replicas)
	assert.True(t, pod.SecurityContext.RunAsNonRoot)
	assert.Equal(t, 65532, pod.SecurityContext.RunAsUser)
	assert.Equal(t, "RuntimeDefault", pod.SecurityContext.SeccompProfile.Type)
	require.NotNil(t, c.SecurityContext.AllowPrivilegeEscalation)
	assert.False(t, *c.SecurityContext.AllowPrivilegeEscalation)
	assert.True(t, c.SecurityContext.ReadOnlyRootFilesystem)
	assert.Equal(t, []string{"ALL"}, c.SecurityContext.Capabilities.Drop)

	fromSecret := map[string]bool{}
	plain := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			_, fromSecret[e.Name] = e.ValueFrom["secretKeyRef"]
		} else {
			plain[e.Name] = e.Value
		}
	}
	for _, name := range []string{"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "ASTRO_API_TOKEN", "ORGTOKEN_DATABASE_URL"} {
		assert.True(t, fromSecret[name], "%s must come from the Secret", name)
	}
	for _, name := range []string{"ASTRO_ORGANIZATION_ID", "ASTRO_WORKSPACE_ID", "ORGTOKEN_AUDIT_CHANNEL"} {
		assert.Contains(t, plain, name)
	}
	policyFile := plain["ORGTOKEN_POLICY_FILE"]
	require.NotEmpty(t, policyFile)
	mounted := false
	for _, m := range c.VolumeMounts {
		if m.MountPath == filepath.Dir(policyFile) {
			mounted = m.ReadOnly
		}
	}
	assert.True(t, mounted, "the policy directory is mounted read-only")
}

func TestComposeFileReferencesExistAndEnvExampleIsComplete(t *testing.T) {
	t.Parallel()
	path := filepath.Join(deployDir, "docker-compose.yml")
	var compose struct {
		Services map[string]struct {
			Build struct {
				Context    string `yaml:"context"`
				Dockerfile string `yaml:"dockerfile"`
			} `yaml:"build"`
			EnvFile string   `yaml:"env_file"`
			Volumes []string `yaml:"volumes"`
		} `yaml:"services"`
	}
	decodeFile(t, path, &compose)
	bot, ok := compose.Services["bot"]
	require.True(t, ok)
	assert.FileExists(t, filepath.Join(deployDir, bot.Build.Context, bot.Build.Dockerfile))
	assert.Equal(t, ".env", bot.EnvFile)
	for _, v := range bot.Volumes {
		if src, _, ok := strings.Cut(v, ":"); ok && strings.HasPrefix(src, "./") {
			assert.FileExists(t, filepath.Join(deployDir, src))
		}
	}

	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	example, err := os.ReadFile(filepath.Join(deployDir, ".env.example"))
	require.NoError(t, err)
	defined := regexp.MustCompile(`(?m)^#?\s*([A-Z][A-Z0-9_]*)=`).FindAllStringSubmatch(string(example), -1)
	var names []string
	for _, m := range defined {
		names = append(names, m[1])
	}
	for _, m := range regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)`).FindAllStringSubmatch(string(raw), -1) {
		assert.True(t, slices.Contains(names, m[1]), ".env.example lacks %s, used in docker-compose.yml", m[1])
	}
	for _, name := range []string{"SLACK_APP_TOKEN", "SLACK_BOT_TOKEN", "ASTRO_API_TOKEN", "ASTRO_ORGANIZATION_ID", "ASTRO_WORKSPACE_ID", "ORGTOKEN_AUDIT_CHANNEL"} {
		assert.Contains(t, names, name)
	}
	assert.NotRegexp(t, `xox[abp]-[0-9]|xapp-[0-9]`, string(example), "placeholders only")
}

func decodeFile(t *testing.T, path string, out any) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(data, out), path)
}
