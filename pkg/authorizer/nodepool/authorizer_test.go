package nodepool

import (
	"context"
	"errors"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

type fakePools map[string]string

func (f fakePools) PoolOf(node string) (string, bool, error) {
	if node == "broken" {
		return "", false, errors.New("cache unavailable")
	}
	p, ok := f[node]
	return p, ok, nil
}

func TestAuthorize(t *testing.T) {
	a := New(fakePools{"n1": "hangzhou", "n2": "beijing"}, "kube-system")
	node := func(name string) user.Info {
		return &user.DefaultInfo{Name: "system:node:" + name, Groups: []string{"system:nodes", "system:authenticated"}}
	}
	lh := func(u user.Info, verb, ns, name string) authorizer.AttributesRecord {
		return authorizer.AttributesRecord{User: u, Verb: verb, Namespace: ns, Name: name, ResourceRequest: true,
			APIGroup: "leaderhub.openyurt.io", APIVersion: "v1alpha1", Resource: "leaderhubs"}
	}
	tests := []struct {
		name   string
		attrs  authorizer.AttributesRecord
		want   authorizer.Decision
		reason string
	}{
		{"own pool get", lh(node("n1"), "get", "kube-system", "leader-hub-hangzhou"), authorizer.DecisionAllow, ""},
		{"own pool name-selected list", lh(node("n1"), "list", "kube-system", "leader-hub-hangzhou"), authorizer.DecisionAllow, ""},
		{"own pool name-selected watch", lh(node("n1"), "watch", "kube-system", "leader-hub-hangzhou"), authorizer.DecisionAllow, ""},
		{"other pool", lh(node("n1"), "get", "kube-system", "leader-hub-beijing"), authorizer.DecisionDeny, "belongs to pool hangzhou"},
		{"unselected list", lh(node("n1"), "list", "kube-system", ""), authorizer.DecisionDeny, "fieldSelector=metadata.name=leader-hub-hangzhou"},
		{"unselected watch", lh(node("n1"), "watch", "kube-system", ""), authorizer.DecisionDeny, "fieldSelector"},
		{"other namespace", lh(node("n1"), "get", "default", "leader-hub-hangzhou"), authorizer.DecisionDeny, "namespace kube-system"},
		{"write", lh(node("n1"), "delete", "kube-system", "leader-hub-hangzhou"), authorizer.DecisionDeny, "read-only"},
		{"node without pool", lh(node("n3"), "get", "kube-system", "leader-hub-hangzhou"), authorizer.DecisionDeny, "belongs to no NodePool"},
		{"lookup error", lh(node("broken"), "get", "kube-system", "leader-hub-hangzhou"), authorizer.DecisionDeny, "cannot tell"},
		{"other resource", authorizer.AttributesRecord{User: node("n1"), Verb: "get", ResourceRequest: true, Resource: "secrets", Namespace: "kube-system"}, authorizer.DecisionDeny, "only read leaderhubs"},
		{"subresource", func() authorizer.AttributesRecord {
			r := lh(node("n1"), "get", "kube-system", "leader-hub-hangzhou")
			r.Subresource = "status"
			return r
		}(), authorizer.DecisionDeny, "only read leaderhubs"},
		{"discovery", authorizer.AttributesRecord{User: node("n1"), Verb: "get", Path: "/apis/leaderhub.openyurt.io/v1alpha1"}, authorizer.DecisionAllow, ""},
		{"metrics", authorizer.AttributesRecord{User: node("n1"), Verb: "get", Path: "/metrics"}, authorizer.DecisionDeny, "discovery and health"},
		{"not a node", lh(&user.DefaultInfo{Name: "alice"}, "get", "kube-system", "leader-hub-beijing"), authorizer.DecisionNoOpinion, ""},
		{"node name without the group", lh(&user.DefaultInfo{Name: "system:node:n1"}, "get", "kube-system", "leader-hub-beijing"), authorizer.DecisionNoOpinion, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reason, err := a.Authorize(context.Background(), tc.attrs)
			if err != nil || got != tc.want || !strings.Contains(reason, tc.reason) {
				t.Errorf("Authorize = %v, %q, %v; want %v with a reason containing %q", got, reason, err, tc.want, tc.reason)
			}
		})
	}
}
