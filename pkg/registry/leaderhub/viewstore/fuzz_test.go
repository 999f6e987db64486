package viewstore

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metainternalversionscheme "k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme"
	"k8s.io/apimachinery/pkg/apis/meta/internalversion/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/leaderhub/leaderhub/pkg/apis/leaderhub"
	"github.com/leaderhub/leaderhub/pkg/projection"
)

// FuzzRequestOptions decodes arbitrary list/watch query parameters the way
// k8s.io/apiserver does, then lists or watches the store with them: the store
// never panics, answers only with API status errors of the expected codes,
// and a watch delivers only LeaderHubs with a resource version.
func FuzzRequestOptions(f *testing.F) {
	f.Add("", "", "", "", false, false, true, int64(0), "")
	f.Add("10", "openyurt.io/pool-name=a", "metadata.name=leader-hub-a", "NotOlderThan", true, true, true, int64(1), "")
	f.Add("0", "x in (a,b)", "metadata.namespace=kube-system", "", true, false, false, int64(0), "")
	f.Add("abc", "a b", "spec.x=1", "Exact", false, true, false, int64(-1), "token")
	f.Add("99999999999999999999", "!", "metadata.name", "exact", true, true, true, int64(5), "")
	f.Add("5", "", "metadata.name!=leader-hub-b", "Exact", false, false, false, int64(0), "")

	s := New(Options{FreshnessTimeout: 5 * time.Millisecond, Projection: projection.Options{Namespace: ns}})
	_ = s.Replace([]interface{}{nodePool("a", 10, "10.0.0.1"), nodePool("b", 7)}, "10")
	_ = s.Update(nodePool("a", 12, "10.0.0.2"))

	f.Fuzz(func(t *testing.T, rv, labelSel, fieldSel, rvMatch string, watchReq, sendInitial, bookmarks bool, limit int64, cont string) {
		q := url.Values{}
		set := func(k, v string) {
			if v != "" {
				q.Set(k, v)
			}
		}
		set("resourceVersion", rv)
		set("labelSelector", labelSel)
		set("fieldSelector", fieldSel)
		set("resourceVersionMatch", rvMatch)
		set("continue", cont)
		if limit != 0 {
			q.Set("limit", strconv.FormatInt(limit, 10))
		}
		if watchReq {
			q.Set("watch", "true")
			q.Set("sendInitialEvents", strconv.FormatBool(sendInitial))
			q.Set("allowWatchBookmarks", strconv.FormatBool(bookmarks))
		}
		var opts metainternalversion.ListOptions
		if err := metainternalversionscheme.ParameterCodec.DecodeParameters(q, metav1.SchemeGroupVersion, &opts); err != nil {
			return // the API server answers 400 before the store is asked
		}
		metainternalversion.SetListOptionsDefaults(&opts, true)
		if errs := validation.ValidateListOptions(&opts, true); len(errs) > 0 {
			return // the API server answers 422
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if !opts.Watch {
			list, err := s.List(ctx, ns, &opts)
			checkStatus(t, err)
			if err == nil && list.ResourceVersion == "" {
				t.Fatal("a list without a resourceVersion")
			}
			return
		}
		w, err := s.Watch(ctx, ns, &opts)
		checkStatus(t, err)
		if err != nil {
			return
		}
		defer w.Stop()
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					return
				}
				lh, isLH := ev.Object.(*leaderhub.LeaderHub)
				if !isLH || lh.ResourceVersion == "" || (ev.Type != watch.Bookmark && lh.Name == "") {
					t.Fatalf("bad watch event %s %#v", ev.Type, ev.Object)
				}
			case <-time.After(5 * time.Millisecond):
				return
			}
		}
	})
}

func checkStatus(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	status, ok := err.(apierrors.APIStatus)
	if !ok {
		t.Fatalf("error is not an API status: %T %v", err, err)
	}
	switch status.Status().Code {
	case http.StatusBadRequest, http.StatusGone, http.StatusGatewayTimeout:
	default:
		t.Fatalf("unexpected status %d: %v", status.Status().Code, err)
	}
}
