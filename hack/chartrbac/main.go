// Command chartrbac checks a rendering of the Helm chart for least
// privilege: every write verb a Role or ClusterRole grants must be one that
// leaderhub-apiserver, run with the rendered Deployment's flags, uses (its
// Events; each form's resource only with that form, in its namespace;
// NodePool status only with the elector; Lease create, and get/update of its
// own Lease by name, only with the controller lease), and each of those must
// be granted. hack/verify-chart.sh runs it over every values variant.
//
// Usage: chartrbac RENDERED.yaml
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/leaderhub/leaderhub/pkg/controller/manager"
	"github.com/leaderhub/leaderhub/pkg/controller/materialize"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: chartrbac RENDERED.yaml")
		os.Exit(2)
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "chartrbac: %v\n", err)
		os.Exit(1)
	}
	problems, err := check(data)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chartrbac: %v\n", err)
		os.Exit(1)
	}
	for _, p := range problems {
		fmt.Fprintf(os.Stderr, "chartrbac: %s\n", p)
	}
	if len(problems) > 0 {
		os.Exit(1)
	}
}

// writeVerbs are the verbs that change something; escalate, bind and
// impersonate are never leaderhub's.
var writeVerbs = []string{"create", "update", "patch", "delete", "deletecollection", "escalate", "bind", "impersonate", "*"}

// grant is one write permission: a verb on a group's resource, in a
// namespace ("" for cluster-wide), limited to resourceNames if any.
type grant struct {
	namespace, group, resource, verb string
	names                            string // comma-joined resourceNames
}

func (g grant) String() string {
	where := "cluster-wide"
	if g.namespace != "" {
		where = "in namespace " + g.namespace
	}
	s := fmt.Sprintf("%s %s %s", g.verb, qualified(g.group, g.resource), where)
	if g.names != "" {
		s += " (resourceNames " + g.names + ")"
	}
	return s
}

func qualified(group, resource string) string {
	if group == "" {
		return resource
	}
	return resource + "." + group
}

// rendered is what check reads of a rendering.
type rendered struct {
	args  []string
	rules map[string][]grant // by "Kind namespace/name"
}

func check(data []byte) ([]string, error) {
	r, err := decode(data)
	if err != nil {
		return nil, err
	}
	needed, err := neededGrants(r.args)
	if err != nil {
		return nil, err
	}
	config := relevantFlags(r.args)
	var problems []string
	granted := map[grant]bool{}
	for role, grants := range r.rules {
		for _, g := range grants {
			granted[g] = true
			if !slices.Contains(needed, g) {
				problems = append(problems, fmt.Sprintf("%s grants %s, which leaderhub-apiserver with %s does not use", role, g, config))
			}
		}
	}
	for _, g := range needed {
		if !granted[g] {
			problems = append(problems, fmt.Sprintf("nothing grants %s, which leaderhub-apiserver with %s needs", g, config))
		}
	}
	slices.Sort(problems)
	return problems, nil
}

// relevantFlags are the flags of args that decide what leaderhub writes.
func relevantFlags(args []string) string {
	var out []string
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if slices.Contains([]string{"namespace", "controllers", "materialize", "leader-elect", "leader-elect-resource-name", "leader-elect-resource-namespace"}, name) {
			out = append(out, a)
		}
	}
	return strings.Join(out, " ")
}

// neededGrants are the writes leaderhub-apiserver makes with args.
func neededGrants(args []string) ([]grant, error) {
	flag := func(name string) string {
		value := ""
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				value = v
			}
		}
		return value
	}
	materializeOn, hubLeaderOn, err := manager.ParseControllers(strings.Split(flag("controllers"), ","))
	if err != nil {
		return nil, err
	}
	var forms []materialize.Form
	if materializeOn {
		if forms, err = materialize.ParseForms(strings.Split(flag("materialize"), ",")); err != nil {
			return nil, err
		}
	}
	ns := flag("namespace")
	if ns == "" {
		return nil, errors.New("the Deployment's args set no --namespace")
	}
	var needed []grant
	for _, group := range []string{"", "events.k8s.io"} {
		for _, verb := range []string{"create", "patch", "update"} {
			needed = append(needed, grant{group: group, resource: "events", verb: verb})
		}
	}
	if hubLeaderOn {
		needed = append(needed, grant{group: "apps.openyurt.io", resource: "nodepools/status", verb: "patch"})
	}
	formResources := map[materialize.Form]grant{
		materialize.FormEndpoints:         {resource: "endpoints"},
		materialize.FormConfigMap:         {resource: "configmaps"},
		materialize.FormEndpointSliceIPv4: {group: "discovery.k8s.io", resource: "endpointslices"},
	}
	for _, f := range forms {
		g, ok := formResources[f]
		if !ok {
			continue // the IPv6 slices share the IPv4 ones' resource
		}
		for _, verb := range []string{"create", "update", "delete"} {
			needed = append(needed, grant{namespace: ns, group: g.group, resource: g.resource, verb: verb})
		}
	}
	if flag("leader-elect") == "true" {
		leaseNS, name := flag("leader-elect-resource-namespace"), flag("leader-elect-resource-name")
		if leaseNS == "" {
			leaseNS = ns
		}
		needed = append(needed, grant{namespace: leaseNS, group: "coordination.k8s.io", resource: "leases", verb: "create"},
			grant{namespace: leaseNS, group: "coordination.k8s.io", resource: "leases", verb: "update", names: name})
	}
	return needed, nil
}

// decode reads the leaderhub container's args and the write grants of
// every Role and ClusterRole of a multi-document rendering.
func decode(data []byte) (*rendered, error) {
	r := &rendered{rules: map[string][]grant{}}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	deployments := 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return nil, err
		}
		switch meta.Kind {
		case "Deployment":
			var d appsv1.Deployment
			if err := yaml.Unmarshal(doc, &d); err != nil {
				return nil, err
			}
			deployments++
			for _, c := range d.Spec.Template.Spec.Containers {
				r.args = append(r.args, c.Args...)
			}
		case "Role", "ClusterRole":
			var role rbacv1.ClusterRole // a Role's fields are a subset
			if err := yaml.Unmarshal(doc, &role); err != nil {
				return nil, err
			}
			key := meta.Kind + " " + role.Name
			if role.Namespace != "" {
				key = meta.Kind + " " + role.Namespace + "/" + role.Name
			}
			r.rules[key] = append(r.rules[key], writeGrants(role.Namespace, role.Rules)...)
		}
	}
	if deployments != 1 {
		return nil, fmt.Errorf("the rendering has %d Deployments, want 1", deployments)
	}
	return r, nil
}

// writeGrants expands the write verbs of rules, one grant per group,
// resource and verb.
func writeGrants(namespace string, rules []rbacv1.PolicyRule) []grant {
	var out []grant
	for _, rule := range rules {
		names := strings.Join(rule.ResourceNames, ",")
		for _, verb := range rule.Verbs {
			if !slices.Contains(writeVerbs, verb) {
				continue
			}
			if len(rule.NonResourceURLs) > 0 {
				out = append(out, grant{namespace: namespace, resource: strings.Join(rule.NonResourceURLs, ","), verb: verb, names: names})
			}
			for _, group := range rule.APIGroups {
				for _, resource := range rule.Resources {
					out = append(out, grant{namespace: namespace, group: group, resource: resource, verb: verb, names: names})
				}
			}
		}
	}
	return out
}
