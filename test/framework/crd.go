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
		if err := waitCRDServed(ctx, client, crd); err != nil {
			return err
		}
	}
	return nil
}

func waitCRDServed(ctx context.Context, client dynamic.Interface, crd *unstructured.Unstructured) error {
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	if len(versions) == 0 {
		return fmt.Errorf("CRD %s has no versions", crd.GetName())
	}
	version, _, _ := unstructured.NestedString(versions[0].(map[string]interface{}), "name")
	gvr := schema.GroupVersionResource{Group: group, Version: version, Resource: plural}
	return wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		live, err := client.Resource(crdResource).Get(ctx, crd.GetName(), metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(live.Object, "status", "conditions")
		established := false
		for _, c := range conds {
			m := c.(map[string]interface{})
			if m["type"] == "Established" && m["status"] == "True" {
				established = true
			}
		}
		if !established {
			return false, nil
		}
		_, err = client.Resource(gvr).List(ctx, metav1.ListOptions{Limit: 1})
		return err == nil, nil
	})
}
