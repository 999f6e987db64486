package framework

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// DeployManifest is the checked-in rendering of the Helm chart that tests
// take the APIService from (hack/verify-chart.sh keeps it equal to the
// chart).
const DeployManifest = "artifacts/deploy/leaderhub.yaml"

// ManifestObjects returns the objects of a multi-document YAML file of the
// repository whose kind is one of kinds (all of them when kinds is empty).
func ManifestObjects(relPath string, kinds ...string) ([]*unstructured.Unstructured, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(root, relPath))
	if err != nil {
		return nil, err
	}
	return decodeObjects(data, kinds...)
}

// decodeObjects splits multi-document YAML into objects, keeping kinds.
func decodeObjects(data []byte, kinds ...string) ([]*unstructured.Unstructured, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		err := decoder.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(obj.Object) == 0 {
			continue // a document of comments only
		}
		if len(kinds) == 0 || slices.Contains(kinds, obj.GetKind()) {
			out = append(out, obj)
		}
	}
}
