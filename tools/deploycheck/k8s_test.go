package deploycheck

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// repo is the repository root, seen from this package's directory.
const repo = "../.."

// inRepo returns the path of rel (slash-separated, relative to the repository root).
func inRepo(rel string) string { return filepath.Join(repo, filepath.FromSlash(rel)) }

// kustomizations are the directories `kubectl apply -k` is meant for.
var kustomizations = []string{"deploy/k8s/base", "deploy/k8s/overlays/production"}

// strictDecoder decodes the kinds the manifests may use, failing on unknown or duplicate
// fields: a misspelt or misplaced field is an error, as the API server's strict field
// validation would make it, instead of being dropped.
func strictDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme,
		policyv1.AddToScheme, autoscalingv2.AddToScheme, monitoringv1.AddToScheme} {
		require.NoError(t, add(scheme))
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

// build runs kustomize on dir and decodes every object it makes.
func build(t *testing.T, dir string) []runtime.Object {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), inRepo(dir))
	require.NoError(t, err, "kustomize build %s", dir)
	dec := strictDecoder(t)
	var out []runtime.Object
	for _, r := range m.Resources() {
		j, err := r.MarshalJSON()
		require.NoError(t, err)
		obj, _, err := dec.Decode(j, nil, nil)
		require.NoError(t, err, "%s: %s %s", dir, r.GetKind(), r.GetName())
		out = append(out, obj)
	}
	return out
}

func TestKustomizationsBuildAndEveryObjectDecodesStrictly(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			objs := build(t, dir)
			kinds := map[string]int{}
			for _, o := range objs {
				kinds[fmt.Sprintf("%T", o)]++
			}
			assert.Equal(t, 3, kinds["*v1.Deployment"], "a Deployment per role")
			assert.Equal(t, 1, kinds["*v1.Job"], "the migrate Job")
			assert.Equal(t, 3, kinds["*v1.PodDisruptionBudget"])
			assert.Equal(t, 1, kinds["*v1.ServiceMonitor"])
		})
	}
}

// TestTheStrictDecoderRefusesAnUnknownField: the check above can fail.
func TestTheStrictDecoderRefusesAnUnknownField(t *testing.T) {
	_, _, err := strictDecoder(t).Decode([]byte(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},
		"spec":{"replica":2,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}}}`), nil, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "spec.replica"`)
}

// TestManifestsAreOperable checks what a decode cannot: selectors select the pods, every pod
// is probed on the admin port, sized, non-root and read-only, and has a disruption budget;
// the ServiceMonitor finds every role's admin port; the Job migrates and the roles do not.
func TestManifestsAreOperable(t *testing.T) {
	for _, dir := range kustomizations {
		t.Run(dir, func(t *testing.T) {
			objs := build(t, dir)
			var deps []*appsv1.Deployment
			var svcs []*corev1.Service
			var pdbs []*policyv1.PodDisruptionBudget
			var monitors []*monitoringv1.ServiceMonitor
			var jobs []*batchv1.Job
			var hpas []*autoscalingv2.HorizontalPodAutoscaler
			for _, o := range objs {
				switch v := o.(type) {
				case *appsv1.Deployment:
					deps = append(deps, v)
				case *corev1.Service:
					svcs = append(svcs, v)
				case *policyv1.PodDisruptionBudget:
					pdbs = append(pdbs, v)
				case *monitoringv1.ServiceMonitor:
					monitors = append(monitors, v)
				case *batchv1.Job:
					jobs = append(jobs, v)
				case *autoscalingv2.HorizontalPodAutoscaler:
					hpas = append(hpas, v)
				}
			}
			roles := map[string]bool{}
			for _, d := range deps {
				sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
				require.NoError(t, err)
				podLabels := labels.Set(d.Spec.Template.Labels)
				assert.True(t, sel.Matches(podLabels), "%s: its selector selects its pods", d.Name)
				role := d.Spec.Template.Labels["app.kubernetes.io/component"]
				roles[role] = true
				spec := d.Spec.Template.Spec
				checkPod(t, d.Name, spec)
				c := spec.Containers[0]
				assert.Equal(t, []string{"serve", "--role", role}, c.Args, "%s plays its role only", d.Name)
				for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
					if assert.NotNil(t, p, "%s: %s probe", d.Name, name) && assert.NotNil(t, p.HTTPGet, "%s: %s probe", d.Name, name) {
						assert.Equal(t, "admin", p.HTTPGet.Port.String(), "%s: %s probe on the admin listener", d.Name, name)
					}
				}
				assert.Equal(t, "/readyz", c.ReadinessProbe.HTTPGet.Path, d.Name)
				assert.True(t, slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == "admin" && p.ContainerPort == 9090 }),
					"%s: admin port 9090", d.Name)
				assert.True(t, slices.ContainsFunc(pdbs, func(p *policyv1.PodDisruptionBudget) bool { return selects(t, p.Spec.Selector, podLabels) }),
					"%s: a PodDisruptionBudget covers its pods", d.Name)
				var svc *corev1.Service
				for _, s := range svcs {
					if len(s.Spec.Selector) > 0 && labels.SelectorFromSet(s.Spec.Selector).Matches(podLabels) {
						svc = s
					}
				}
				if assert.NotNil(t, svc, "%s: a Service selects its pods", d.Name) {
					for _, sp := range svc.Spec.Ports {
						assert.True(t, slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.Name == sp.TargetPort.String() }),
							"Service %s: target port %s is a port of %s", svc.Name, sp.TargetPort.String(), d.Name)
					}
					assert.True(t, slices.ContainsFunc(monitors, func(m *monitoringv1.ServiceMonitor) bool {
						return selects(t, &m.Spec.Selector, svc.Labels) && slices.ContainsFunc(m.Spec.Endpoints, func(e monitoringv1.Endpoint) bool {
							return e.Port == "admin" && slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == "admin" })
						})
					}), "a ServiceMonitor scrapes the admin port of Service %s", svc.Name)
				}
			}
			assert.Equal(t, map[string]bool{"command": true, "query": true, "projector": true}, roles)
			if assert.Len(t, jobs, 1) {
				checkPod(t, jobs[0].Name, jobs[0].Spec.Template.Spec)
				assert.Equal(t, []string{"migrate", "up"}, jobs[0].Spec.Template.Spec.Containers[0].Args)
			}
			for _, h := range hpas {
				assert.True(t, slices.ContainsFunc(deps, func(d *appsv1.Deployment) bool {
					return d.Name == h.Spec.ScaleTargetRef.Name && d.Spec.Replicas == nil
				}), "HPA %s scales a Deployment that leaves its replicas to it", h.Name)
			}
		})
	}
}

func selects(t *testing.T, ls *metav1.LabelSelector, set map[string]string) bool {
	t.Helper()
	sel, err := metav1.LabelSelectorAsSelector(ls)
	require.NoError(t, err)
	return !sel.Empty() && sel.Matches(labels.Set(set))
}

// checkPod: one container of the dotmac image, non-root, read-only, sized, configured from
// the ConfigMap and the Secret, with --migrate=false for serve.
func checkPod(t *testing.T, name string, spec corev1.PodSpec) {
	t.Helper()
	require.Len(t, spec.Containers, 1, name)
	c := spec.Containers[0]
	assert.True(t, strings.Contains(c.Image, "dotmac"), "%s: image %s", name, c.Image)
	if assert.NotNil(t, spec.SecurityContext, name) && assert.NotNil(t, spec.SecurityContext.RunAsNonRoot, name) {
		assert.True(t, *spec.SecurityContext.RunAsNonRoot, "%s: runAsNonRoot", name)
	}
	if assert.NotNil(t, c.SecurityContext, name) {
		assert.True(t, c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem, "%s: read-only root", name)
		assert.True(t, c.SecurityContext.AllowPrivilegeEscalation != nil && !*c.SecurityContext.AllowPrivilegeEscalation, "%s: no privilege escalation", name)
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		assert.Contains(t, c.Resources.Requests, r, "%s: %s request", name, r)
		assert.Contains(t, c.Resources.Limits, r, "%s: %s limit", name, r)
	}
	assert.True(t, slices.ContainsFunc(c.EnvFrom, func(e corev1.EnvFromSource) bool {
		return e.ConfigMapRef != nil && e.ConfigMapRef.Name == "dotmac-config"
	}),
		"%s: configured by the ConfigMap dotmac-config", name)
}

// TestConfigMapTurnsMigrationsOffInTheRoles: the roles never migrate; the Job does.
func TestConfigMapTurnsMigrationsOffInTheRoles(t *testing.T) {
	for _, dir := range kustomizations {
		for _, o := range build(t, dir) {
			if cm, ok := o.(*corev1.ConfigMap); ok && strings.HasPrefix(cm.Name, "dotmac-config") {
				assert.Equal(t, "false", cm.Data["DOTMAC_MIGRATE"], dir)
				assert.Equal(t, "true", cm.Data["DOTMAC_PRODUCTION"], dir)
				assert.Equal(t, ":9090", cm.Data["DOTMAC_ADMIN_ADDR"], dir)
			}
		}
	}
}
