package deploycheck

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// variables are the names .env.example lists: every variable a flag reads (cmd/dotmac checks
// that against the command tree).
func variables(t *testing.T) map[string]bool {
	t.Helper()
	text, err := os.ReadFile(inRepo(".env.example"))
	require.NoError(t, err)
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z][A-Z0-9_]*)=`).FindAllStringSubmatch(string(text), -1) {
		out[m[1]] = true
	}
	require.Contains(t, out, "DATABASE_URL")
	return out
}

func checkVariable(t *testing.T, known map[string]bool, where, name string) {
	t.Helper()
	if known[name] {
		return
	}
	t.Errorf("%s sets %s, which is no variable of dotmac (.env.example): a typo is silently ignored", where, name)
}

// TestDeploySetsOnlyRealVariables: every variable the compose services and the Kubernetes
// ConfigMaps and containers give dotmac is one it reads.
func TestDeploySetsOnlyRealVariables(t *testing.T) {
	known := variables(t)
	p, err := loadCompose(t, inRepo("deploy/compose.yaml"), nil, "DOTMAC_JWT_SECRET=x")
	require.NoError(t, err)
	for _, s := range p.Services {
		if !strings.Contains(s.Image, "dotmac") {
			continue
		}
		for name := range s.Environment {
			checkVariable(t, known, "compose service "+s.Name, name)
		}
	}
	for _, dir := range kustomizations {
		for _, o := range build(t, dir) {
			var pod *corev1.PodSpec
			switch v := o.(type) {
			case *corev1.ConfigMap:
				for name := range v.Data {
					checkVariable(t, known, dir+" ConfigMap "+v.Name, name)
				}
			case *appsv1.Deployment:
				pod = &v.Spec.Template.Spec
			case *batchv1.Job:
				pod = &v.Spec.Template.Spec
			}
			if pod == nil {
				continue
			}
			for _, c := range pod.Containers {
				for _, e := range c.Env {
					checkVariable(t, known, dir+" container "+c.Name, e.Name)
				}
			}
		}
	}
}
