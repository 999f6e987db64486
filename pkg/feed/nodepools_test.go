package feed

import (
	"errors"
	"slices"
	"strings"
	"testing"

	appsv1beta2 "github.com/leaderhub/leaderhub/pkg/apis/apps/v1beta2"
	"github.com/leaderhub/leaderhub/test/fixtures"
)

// journal records, in order, what the view and the followers were told.
type journal struct{ lines []string }

func (j *journal) add(parts ...string) { j.lines = append(j.lines, strings.Join(parts, " ")) }

// fakeView is the view: it records every call and refuses what it is told
// to refuse.
type fakeView struct {
	j      *journal
	refuse error
}

func (v *fakeView) Add(obj interface{}) error { return v.Update(obj) }
func (v *fakeView) Update(obj interface{}) error {
	v.j.add("view update", obj.(*appsv1beta2.NodePool).Name)
	return v.refuse
}
func (v *fakeView) Delete(obj interface{}) error {
	v.j.add("view delete", obj.(*appsv1beta2.NodePool).Name)
	return v.refuse
}
func (v *fakeView) Replace(list []interface{}, rv string) error {
	v.j.add("view replace", rv)
	return v.refuse
}
func (v *fakeView) Resync() error                   { return nil }
func (v *fakeView) UpdateResourceVersion(rv string) { v.j.add("view rv", rv) }
func (v *fakeView) Bookmark(rv string) error        { v.j.add("view bookmark", rv); return nil }

type fakeFollower struct {
	j    *journal
	name string
}

func (f fakeFollower) Upsert(np *appsv1beta2.NodePool) { f.j.add(f.name, "upsert", np.Name) }
func (f fakeFollower) Delete(name string)              { f.j.add(f.name, "delete", name) }
func (f fakeFollower) Replace(nps []*appsv1beta2.NodePool) {
	names := make([]string, 0, len(nps))
	for _, np := range nps {
		names = append(names, np.Name)
	}
	f.j.add(f.name, "replace", strings.Join(names, ","))
}

// TestFanOut: the view is told first and every follower after it, in
// order; what the view refuses reaches no follower; versions and
// bookmarks reach the view alone.
func TestFanOut(t *testing.T) {
	for _, tc := range []struct {
		name   string
		refuse error
		call   func(f *fanOut) error
		want   []string
	}{
		{"add", nil, func(f *fanOut) error { return f.Add(fixtures.NodePool("a")) },
			[]string{"view update a", "tracker upsert a", "other upsert a"}},
		{"update", nil, func(f *fanOut) error { return f.Update(fixtures.NodePool("a")) },
			[]string{"view update a", "tracker upsert a", "other upsert a"}},
		{"delete", nil, func(f *fanOut) error { return f.Delete(fixtures.NodePool("a")) },
			[]string{"view delete a", "tracker delete a", "other delete a"}},
		{"replace", nil, func(f *fanOut) error {
			return f.Replace([]interface{}{fixtures.NodePool("a"), fixtures.NodePool("b")}, "7")
		}, []string{"view replace 7", "tracker replace a,b", "other replace a,b"}},
		{"refused update", errors.New("no"), func(f *fanOut) error { return f.Update(fixtures.NodePool("a")) },
			[]string{"view update a"}},
		{"refused delete", errors.New("no"), func(f *fanOut) error { return f.Delete(fixtures.NodePool("a")) },
			[]string{"view delete a"}},
		{"refused replace", errors.New("no"), func(f *fanOut) error { return f.Replace(nil, "7") },
			[]string{"view replace 7"}},
		{"resource version", nil, func(f *fanOut) error { f.UpdateResourceVersion("9"); return nil }, []string{"view rv 9"}},
		{"bookmark", nil, func(f *fanOut) error { return f.Bookmark("9") }, []string{"view bookmark 9"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := &journal{}
			f := &fanOut{View: &fakeView{j: j, refuse: tc.refuse},
				followers: []Follower{fakeFollower{j, "tracker"}, fakeFollower{j, "other"}}}
			if err := tc.call(f); !errors.Is(err, tc.refuse) {
				t.Errorf("error %v, want %v", err, tc.refuse)
			}
			if !slices.Equal(j.lines, tc.want) {
				t.Errorf("told %q, want %q", j.lines, tc.want)
			}
		})
	}
}

// TestListeners: every listener hears every change until removed.
func TestListeners(t *testing.T) {
	var l Listeners
	var a, b []string
	removeA := l.AddListener(func(pool string) { a = append(a, pool) })
	l.AddListener(func(pool string) { b = append(b, pool) })
	l.Notify("p")
	removeA()
	l.Notify("q")
	if !slices.Equal(a, []string{"p"}) || !slices.Equal(b, []string{"p", "q"}) {
		t.Errorf("heard %q and %q", a, b)
	}
}
