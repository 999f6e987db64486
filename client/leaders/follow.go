package leaders

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"
)

// errEmpty: the source answers but holds no object of the pool, and is not
// authoritative about it (the form may not be materialized).
var errEmpty = errors.New("the source holds no object of the pool")

// errForeign: the source answered only with objects that are not the
// pool's.
var errForeign = errors.New("the source answered with objects that are not the pool's")

// initialEventsTimeout bounds the wait for a watch-list's initial events.
const initialEventsTimeout = 30 * time.Second

// follower keeps one source's objects of the pool and reports the Config
// they make after every change.
type follower struct {
	src    *source
	port   int32
	objs   map[string]runtime.Object
	rv     string
	update func(Config)
}

// follow reads a source until ctx ends (nil) or the source fails (its
// error: unavailable, or errEmpty). It starts with a watch-list (initial
// events, then the bookmark that ends them), or a list where the server
// does not stream lists, and resumes watches from the last version seen.
func follow(ctx context.Context, src *source, port int32, update func(Config)) error {
	f := &follower{src: src, port: port, objs: map[string]runtime.Object{}, update: update}
	if err := f.initial(ctx); err != nil {
		return err
	}
	quick, tooLarge := 0, 0
	for {
		started := time.Now()
		err := f.watchFrom(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case apierrors.IsResourceExpired(err) || apierrors.IsGone(err):
			if err := f.relist(ctx); err != nil {
				return err
			}
		case isTooLargeResourceVersion(err):
			// A replica behind the one that served the last version (after
			// a switch of replicas): it catches up, so the watch is
			// resumed from the same version; after a few tries, relisted.
			if tooLarge++; tooLarge > maxTooLargeRetries {
				tooLarge = 0
				if err := f.relist(ctx); err != nil {
					return err
				}
			}
		case err != nil:
			return err
		default:
			tooLarge = 0
		}
		// A watch that ends at once is retried with backoff, not in a
		// tight loop; one that lasted resets it.
		if time.Since(started) >= quickWatch {
			quick = 0
			continue
		}
		quick++
		if !sleep(ctx, wait.Jitter(min(quickWatch<<(quick-1), maxWatchBackoff), 0.2)) {
			return nil
		}
	}
}

const (
	// quickWatch: a watch that ended sooner is retried with backoff, from
	// quickWatch, doubling up to maxWatchBackoff.
	quickWatch      = time.Second
	maxWatchBackoff = 30 * time.Second
	// maxTooLargeRetries: resumptions refused as "too large resource
	// version" before the client relists.
	maxTooLargeRetries = 3
)

// isTooLargeResourceVersion reports kube-apiserver's (or a replica's)
// answer to a version it has not reached yet.
func isTooLargeResourceVersion(err error) bool {
	return apierrors.HasStatusCause(err, metav1.CauseTypeResourceVersionTooLarge) ||
		err != nil && strings.Contains(err.Error(), "Too large resource version")
}

// initial reads the current objects: a watch-list when the server streams
// lists, else a list.
func (f *follower) initial(ctx context.Context) error {
	opts := f.src.selector
	opts.SendInitialEvents = ptr.To(true)
	opts.ResourceVersionMatch = metav1.ResourceVersionMatchNotOlderThan
	opts.AllowWatchBookmarks = true
	w, err := f.src.watch(ctx, opts)
	if apierrors.IsBadRequest(err) || apierrors.IsInvalid(err) {
		return f.relist(ctx) // the server does not stream lists
	}
	if err != nil {
		return err
	}
	defer w.Stop()
	// A server that ignores sendInitialEvents never ends them: list then.
	timeout := time.NewTimer(initialEventsTimeout)
	defer timeout.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timeout.C:
			return f.relist(ctx)
		case ev, ok := <-w.ResultChan():
			if !ok {
				return errors.New("the watch-list ended before its initial events did")
			}
			m, err := f.accept(ev)
			if err != nil {
				return err
			}
			if ev.Type == watch.Bookmark {
				if m.GetAnnotations()[metav1.InitialEventsAnnotationKey] == "true" {
					return f.report()
				}
				continue
			}
			f.objs[m.GetName()] = ev.Object
		}
	}
}

// relist replaces the objects with a fresh list.
func (f *follower) relist(ctx context.Context) error {
	list, err := f.src.list(ctx, f.src.selector)
	if err != nil {
		return err
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	lm, err := meta.ListAccessor(list)
	if err != nil {
		return err
	}
	f.objs, f.rv = map[string]runtime.Object{}, lm.GetResourceVersion()
	for _, obj := range items {
		m, err := meta.Accessor(obj)
		if err != nil {
			return err
		}
		f.objs[m.GetName()] = obj
	}
	return f.report()
}

// watchFrom watches from the last version seen until the watch ends.
func (f *follower) watchFrom(ctx context.Context) error {
	opts := f.src.selector
	opts.ResourceVersion, opts.AllowWatchBookmarks = f.rv, true
	opts.TimeoutSeconds = ptr.To(int64(300 + rand.IntN(300)))
	w, err := f.src.watch(ctx, opts)
	if err != nil {
		return err
	}
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			m, err := f.accept(ev)
			if err != nil {
				return err
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				f.objs[m.GetName()] = ev.Object
			case watch.Deleted:
				delete(f.objs, m.GetName())
			default:
				continue
			}
			if err := f.report(); err != nil {
				return err
			}
		}
	}
}

// accept reads an event's object and resourceVersion; an Error event is
// its error.
func (f *follower) accept(ev watch.Event) (metav1.Object, error) {
	if ev.Type == watch.Error {
		return nil, apierrors.FromObject(ev.Object)
	}
	m, err := meta.Accessor(ev.Object)
	if err != nil {
		return nil, err
	}
	f.rv = m.GetResourceVersion()
	return m, nil
}

// report hands the Config of the current objects on; a non-authoritative
// source without objects is errEmpty. An object that is not the pool's (of
// another type or name) is refused with a log line.
func (f *follower) report() error {
	refused := 0
	for name, obj := range f.objs {
		if !f.src.belongs(obj) {
			klog.InfoS("Refusing an object the leader source returned that is not the pool's", "source", f.src.name,
				"object", name, "type", fmt.Sprintf("%T", obj))
			delete(f.objs, name)
			refused++
		}
	}
	if len(f.objs) == 0 && refused > 0 {
		// A source that answers with other objects says nothing of the
		// pool, not that it is gone.
		return fmt.Errorf("%w: %d objects refused", errForeign, refused)
	}
	if len(f.objs) == 0 {
		if !f.src.authoritative {
			return errEmpty
		}
		f.update(Config{Source: f.src.name, ResourceVersion: f.rv})
		return nil
	}
	names := make([]string, 0, len(f.objs))
	for name := range f.objs {
		names = append(names, name)
	}
	slices.Sort(names)
	objs := make([]runtime.Object, len(names))
	for i, name := range names {
		objs[i] = f.objs[name]
	}
	c := f.src.parse(objs, f.port)
	sortLeaders(c.Leaders)
	c.Exists, c.Source, c.ResourceVersion = true, f.src.name, f.rv
	f.update(c)
	return nil
}

// probe asks a better source whether it would answer: it lists the pool's
// objects; an authoritative source answers whatever it holds, another only
// when it holds an object.
func probe(ctx context.Context, src *source) error {
	opts := src.selector
	opts.Limit = 1
	list, err := src.list(ctx, opts)
	if err != nil {
		return err
	}
	if src.authoritative {
		return nil
	}
	if n := meta.LenList(list); n == 0 {
		return errEmpty
	}
	return nil
}

func describe(err error) string {
	if err == nil {
		return ""
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return fmt.Sprintf("%d %s: %s", status.Status().Code, status.Status().Reason, status.Status().Message)
	}
	return err.Error()
}
