package nodepool

import (
	"errors"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/client-go/tools/cache"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
)

// brokenStore fails every read, or returns obj for every key.
type brokenStore struct {
	obj interface{}
	err error
}

func (b brokenStore) GetByKey(string) (interface{}, bool, error) { return b.obj, b.obj != nil, b.err }

func nodeMeta(name string, labels map[string]string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func TestInformerLookup(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, n := range []*metav1.PartialObjectMetadata{
		nodeMeta("in-pool", map[string]string{appsv1beta2.LabelNodePool: "hangzhou"}),
		nodeMeta("no-label", map[string]string{"other": "x"}),
		nodeMeta("empty-label", map[string]string{appsv1beta2.LabelNodePool: ""}),
	} {
		if err := indexer.Add(n); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name      string
		store     NodeStore
		node      string
		wantPool  string
		wantFound bool
		wantErr   string
	}{
		{name: "node in a pool", store: indexer, node: "in-pool", wantPool: "hangzhou", wantFound: true},
		{name: "node without the label", store: indexer, node: "no-label"},
		{name: "node with an empty label", store: indexer, node: "empty-label"},
		{name: "unknown node", store: indexer, node: "nobody"},
		{name: "store fails", store: brokenStore{err: errors.New("cache unavailable")}, node: "n1",
			wantErr: `reading node "n1" from the Node cache: cache unavailable`},
		{name: "store holds something else", store: brokenStore{obj: "a string"}, node: "n1",
			wantErr: `the Node cache holds a string for node "n1", not object metadata`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool, found, err := InformerLookup{Indexer: tt.store}.PoolOf(tt.node)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if found || pool != "" {
					t.Errorf("got pool %q found=%t with an error", pool, found)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if pool != tt.wantPool || found != tt.wantFound {
				t.Errorf("PoolOf(%q) = %q, %t; want %q, %t", tt.node, pool, found, tt.wantPool, tt.wantFound)
			}
		})
	}
}

// TestAuthorizeDeniesOnLookupError: a failing lookup denies a node with the
// reason, and never panics.
func TestAuthorizeDeniesOnLookupError(t *testing.T) {
	for _, store := range []NodeStore{brokenStore{err: errors.New("boom")}, brokenStore{obj: 42}} {
		a := New(InformerLookup{Indexer: store}, "kube-system")
		attrs := authorizer.AttributesRecord{
			User: &user.DefaultInfo{Name: "system:node:n1", Groups: []string{"system:nodes"}},
			Verb: "get", Namespace: "kube-system", Name: "leader-hub-hangzhou", ResourceRequest: true,
			APIGroup: "leaderhub.openyurt.io", APIVersion: "v1alpha1", Resource: "leaderhubs",
		}
		d, reason, err := a.Authorize(t.Context(), attrs)
		if err != nil || d != authorizer.DecisionDeny || !strings.Contains(reason, "cannot tell the pool of node n1") {
			t.Errorf("store %#v: decision %v, reason %q, err %v; want a Deny naming the lookup failure", store, d, reason, err)
		}
	}
}
