package main

import (
	"fmt"
	"strings"
	"testing"
)

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: leaderhub, namespace: kube-system}
spec:
  template:
    spec:
      containers:
        - name: leaderhub-apiserver
          args: ["--namespace=kube-system", "--controllers=%s", "--materialize=%s", "--leader-elect=%s", "--leader-elect-resource-name=lh-lease"]
`

const clusterRole = `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: leaderhub}
rules:
  - apiGroups: ["", "events.k8s.io"]
    resources: [events]
    verbs: [create, patch, update]
  - apiGroups: [apps.openyurt.io]
    resources: [nodepools]
    verbs: [get, list, watch]
`

const statusRule = `  - apiGroups: [apps.openyurt.io]
    resources: [nodepools/status]
    verbs: [patch]
`

const roleHead = `---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: leaderhub, namespace: kube-system}
rules:
`

const endpointsRule = `  - apiGroups: [""]
    resources: [endpoints]
    verbs: [get, list, watch, create, update, delete]
`

const leaseRules = `  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [create]
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    resourceNames: [lh-lease]
    verbs: [get, update]
`

// render is a rendering: the Deployment with those flags, then parts.
func render(controllers, forms, leaderElect string, parts ...string) []byte {
	return []byte(fmt.Sprintf(deployment, controllers, forms, leaderElect) + strings.Join(parts, ""))
}

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		// want are substrings of the problems, one each, in order.
		want []string
	}{
		{name: "defaults, exactly what they need",
			data: render("*", "endpoints", "true", clusterRole, roleHead, endpointsRule, leaseRules)},
		{name: "elector granted NodePool status",
			data: render("*,hubleader", "endpoints", "true", clusterRole+statusRule, roleHead, endpointsRule, leaseRules)},
		{name: "NodePool status without the elector",
			data: render("*", "endpoints", "true", clusterRole+statusRule, roleHead, endpointsRule, leaseRules),
			want: []string{"ClusterRole leaderhub grants patch nodepools/status.apps.openyurt.io cluster-wide"}},
		{name: "elector without NodePool status",
			data: render("*,hubleader", "endpoints", "true", clusterRole, roleHead, endpointsRule, leaseRules),
			want: []string{"nothing grants patch nodepools/status.apps.openyurt.io"}},
		{name: "ConfigMaps without the form, and every Lease",
			data: render("*", "endpoints", "true", clusterRole, roleHead, `  - apiGroups: [""]
    resources: [endpoints, configmaps]
    verbs: [get, create, update, delete]
  - apiGroups: [coordination.k8s.io]
    resources: [leases]
    verbs: [get, create, update]
`),
			want: []string{"grants create configmaps in namespace kube-system", "grants delete configmaps", "grants update configmaps",
				"grants update leases.coordination.k8s.io in namespace kube-system, which",
				"nothing grants update leases.coordination.k8s.io in namespace kube-system (resourceNames lh-lease)"}},
		{name: "materialize off: no form, even if listed",
			data: render("-materialize", "endpoints", "false", clusterRole, roleHead, endpointsRule),
			want: []string{"grants create endpoints", "grants delete endpoints", "grants update endpoints"}},
		{name: "a wildcard verb",
			data: render("-materialize", "endpoints", "false", clusterRole, `  - apiGroups: [""]
    resources: [secrets]
    verbs: ["*"]
`),
			want: []string{"ClusterRole leaderhub grants * secrets cluster-wide"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			problems, err := check(tc.data)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) != len(tc.want) {
				t.Fatalf("problems:\n%s\nwant %d", strings.Join(problems, "\n"), len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(problems[i], w) {
					t.Errorf("problem %d: %s\nwant it to say %q", i, problems[i], w)
				}
			}
		})
	}
}

func TestCheckNeedsOneDeployment(t *testing.T) {
	if _, err := check([]byte(clusterRole)); err == nil || !strings.Contains(err.Error(), "0 Deployments") {
		t.Fatalf("got %v, want an error about the missing Deployment", err)
	}
}
