// Tools module for the edge client's generated code: k8s.io/code-generator at
// the Kubernetes release of the client module (client/go.mod), whose
// clientset, listers and informers must compile against that release's
// client-go. hack/update-codegen.sh uses it for client/generated only.
module github.com/leaderhub/leaderhub/hack/tools/codegen-client

go 1.25.0

tool k8s.io/code-generator/cmd/client-gen

require (
	github.com/go-logr/logr v1.4.2 // indirect
	github.com/spf13/pflag v1.0.6 // indirect
	golang.org/x/mod v0.21.0 // indirect
	golang.org/x/sync v0.12.0 // indirect
	golang.org/x/text v0.23.0 // indirect
	golang.org/x/tools v0.26.0 // indirect
	k8s.io/code-generator v0.34.0 // indirect
	k8s.io/gengo/v2 v2.0.0-20250604051438-85fd79dbfd9f // indirect
	k8s.io/klog/v2 v2.130.1 // indirect
)
