package framework

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs creates (or updates) every CRD in <repo>/artifacts/crds and waits
// until each is established and its resource can be listed.
func (cp *ControlPlane) InstallCRDs(ctx context.Context) error {
	root, err := RepoRoot()
	if err != nil {
		return err
	}
	cfg, err := cp.RESTConfig()
	if err != nil {
		return err
	}
	return InstallCRDs(ctx, cfg, filepath.Join(root, "artifacts", "crds"))
}

// InstallCRDs creates (or updates) every CRD manifest in dir and waits until
// each is established and its resource can be listed.
func InstallCRDs(ctx context.Context, cfg *rest.Config, dir string) error {
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return fmt.Errorf("listing CRD manifests in %s: %w", dir, err)
	}
	if len(files) == 0 {
		return fmt.Errorf("no CRD manifests in %s", dir)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		crd := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &crd.Object); err != nil {
			return fmt.Errorf("decoding %s: %w", file, err)
		}
		crds := client.Resource(crdResource)
		if _, err := crds.Create(ctx, crd, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
			existing, getErr := crds.Get(ctx, crd.GetName(), metav1.GetOptions{})
			if getErr != nil {
				return getErr
			}
			crd.SetResourceVersion(existing.GetResourceVersion())
			_, err = crds.Update(ctx, crd, metav1.UpdateOptions{})
			if err != nil {
				return fmt.Errorf("updating CRD %s: %w", crd.GetName(), err)
			}
		} else if err != nil {
			return fmt.Errorf("creating CRD %s: %w", crd.GetName(), err)
		}
		if err := waitCRDServed(ctx, client, crd.GetName()); err != nil {
			return err
		}
	}
	return nil
}

// WaitCRDsServed waits until each named CRD is established and its resource
// can be listed. It reads the conditions itself: `kubectl wait
// --for=condition=Established` fails at once, instead of waiting, on a CRD
// whose status has no conditions yet (kubernetes/kubernetes#66439), which
// is how a CRD looks for a moment after it is created.
func (cp *ControlPlane) WaitCRDsServed(ctx context.Context, names ...string) error {
	client, err := cp.dynamicClient()
	if err != nil {
		return err
	}
	for _, name := range names {
		if err := waitCRDServed(ctx, client, name); err != nil {
			return err
		}
	}
	return nil
}

// waitCRDServed waits until the CRD is established and the resource of its
// first version answers a list.
func waitCRDServed(ctx context.Context, client dynamic.Interface, name string) error {
	var last string
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		live, err := client.Resource(crdResource).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		if !crdEstablished(live) {
			last = "not established"
			return false, nil
		}
		gvr, err := crdResourceOf(live)
		if err != nil {
			return false, err
		}
		if _, err := client.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1}); err != nil {
			last = err.Error()
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("CRD %s not served: %w (last: %s)", name, err, last)
	}
	return nil
}

func crdEstablished(crd *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]interface{}); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// crdResourceOf is the resource a CRD serves at its first version.
func crdResourceOf(crd *unstructured.Unstructured) (schema.GroupVersionResource, error) {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(versions) == 0 {
		return schema.GroupVersionResource{}, fmt.Errorf("CRD %s has no versions", crd.GetName())
	}
	first, _ := versions[0].(map[string]interface{})
	version, _, _ := unstructured.NestedString(first, "name")
	return schema.GroupVersionResource{Group: group, Version: version, Resource: plural}, nil
}
