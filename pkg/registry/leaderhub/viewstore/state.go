package viewstore

import (
	"slices"

	"github.com/leaderhub/leaderhub/pkg/projection"
)

// How the store follows one NodePool's projection.State from one version
// of the NodePool to the next.

// after returns st as it stands after prev (nil for a new pool): a NodePool
// that cannot be published keeps the last projection that was.
func after(st projection.State, prev *projection.State) projection.State {
	if st.Unpublishable != nil && prev != nil && prev.Published {
		st.Pool, st.Published = prev.Pool, true
	}
	return st
}

// sameProjection reports whether s and t publish the same thing.
func sameProjection(s, t *projection.State) bool {
	return s.Published == t.Published && (!s.Published || s.Pool.Equal(&t.Pool))
}

// sameProblems reports whether s and t leave out the same things for the
// same reasons.
func sameProblems(s, t *projection.State) bool {
	if (s.Unpublishable == nil) != (t.Unpublishable == nil) {
		return false
	}
	if s.Unpublishable != nil && *s.Unpublishable != *t.Unpublishable {
		return false
	}
	return slices.Equal(s.Invalid, t.Invalid)
}
