// Command image-builder assembles leaderhub's container image without a Docker
// daemon: one OCI image per platform, each a single layer holding a static
// binary (plus the /etc/passwd and /etc/group entries of the nonroot user and
// an empty /tmp) on an empty base, gathered into one OCI image index. It writes
// the index to an OCI image layout directory and, with --push, to a registry.
//
// The output is reproducible: file times in the layer and the image's creation
// time are taken from --created, so the same binaries give the same digests.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// nonroot is the user the image runs as, as in distroless' "nonroot" images.
const (
	nonrootID   = 65532
	nonrootName = "nonroot"
)

// binaries maps "os/arch" to the path of the binary built for it.
type binaries map[string]string

func (b binaries) String() string { return fmt.Sprint(map[string]string(b)) }

func (b binaries) Set(v string) error {
	platform, path, ok := strings.Cut(v, "=")
	if !ok || !strings.Contains(platform, "/") || path == "" {
		return fmt.Errorf("want os/arch=path, got %q", v)
	}
	b[platform] = path
	return nil
}

// labels collects repeated key=value flags.
type labels map[string]string

func (l labels) String() string { return fmt.Sprint(map[string]string(l)) }

func (l labels) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	l[k] = val
	return nil
}

type options struct {
	binaries   binaries
	labels     labels
	entrypoint string
	created    time.Time
	layoutDir  string
	refName    string
	push       string
}

func main() {
	opts := options{binaries: binaries{}, labels: labels{}}
	var created int64
	flag.Var(opts.binaries, "binary", "os/arch=path of the binary for that platform (repeat for each platform)")
	flag.Var(opts.labels, "label", "key=value image config label (repeat)")
	flag.StringVar(&opts.entrypoint, "entrypoint", "", "absolute path the binary gets in the image; it is the entrypoint")
	flag.Int64Var(&created, "created", 0, "creation time as Unix seconds (SOURCE_DATE_EPOCH), for file times and the config")
	flag.StringVar(&opts.layoutDir, "layout", "", "OCI image layout directory to write (replaced if present)")
	flag.StringVar(&opts.refName, "ref-name", "", "org.opencontainers.image.ref.name annotation of the index in the layout")
	flag.StringVar(&opts.push, "push", "", "registry reference to push the index to (optional)")
	flag.Parse()
	opts.created = time.Unix(created, 0).UTC()

	if err := run(opts); err != nil {
		fmt.Fprintln(os.Stderr, "image-builder:", err)
		os.Exit(1)
	}
}

func run(opts options) error {
	if len(opts.binaries) == 0 || !strings.HasPrefix(opts.entrypoint, "/") || opts.layoutDir == "" {
		return fmt.Errorf("--binary, an absolute --entrypoint and --layout are required")
	}
	idx, err := buildIndex(opts)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(opts.layoutDir); err != nil {
		return fmt.Errorf("clearing %s: %w", opts.layoutDir, err)
	}
	p, err := layout.Write(opts.layoutDir, empty.Index)
	if err != nil {
		return fmt.Errorf("writing layout %s: %w", opts.layoutDir, err)
	}
	var layoutOpts []layout.Option
	if opts.refName != "" {
		layoutOpts = append(layoutOpts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": opts.refName}))
	}
	if err := p.AppendIndex(idx, layoutOpts...); err != nil {
		return fmt.Errorf("writing the index to %s: %w", opts.layoutDir, err)
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s (index %s, platforms %s)\n", opts.layoutDir, digest, strings.Join(platforms(opts.binaries), ", "))

	if opts.push != "" {
		ref, err := name.ParseReference(opts.push)
		if err != nil {
			return fmt.Errorf("--push %q: %w", opts.push, err)
		}
		if err := remote.WriteIndex(ref, idx, remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return fmt.Errorf("pushing %s: %w", ref, err)
		}
		fmt.Printf("pushed %s@%s\n", ref.Context(), digest)
	}
	return nil
}

func platforms(b binaries) []string {
	out := make([]string, 0, len(b))
	for p := range b {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func buildIndex(opts options) (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, platform := range platforms(opts.binaries) {
		osName, arch, _ := strings.Cut(platform, "/")
		img, err := buildImage(opts, osName, arch, opts.binaries[platform])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", platform, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: osName, Architecture: arch}},
		})
	}
	return idx, nil
}

func buildImage(opts options, osName, arch, binaryPath string) (v1.Image, error) {
	binary, err := os.ReadFile(binaryPath)
	if err != nil {
		return nil, err
	}
	layerTar, err := rootfs(opts.entrypoint, binary, opts.created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = osName, arch
	cfg.Created = v1.Time{Time: opts.created}
	cfg.Config = v1.Config{
		Entrypoint: []string{opts.entrypoint},
		User:       fmt.Sprintf("%d:%d", nonrootID, nonrootID),
		WorkingDir: "/",
		Env:        []string{"PATH=/"},
		Labels:     opts.labels,
	}
	return mutate.ConfigFile(img, cfg)
}

// rootfs returns the image's only layer as an uncompressed tar: the binary at
// entrypoint, the nonroot user's passwd/group entries and a sticky /tmp.
func rootfs(entrypoint string, binary []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: mtime, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, uid int, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Uid: uid, Gid: uid,
			Size: int64(len(data)), ModTime: mtime, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n",
		nonrootName, nonrootID, nonrootID, nonrootName, nonrootName)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", nonrootName, nonrootID)
	steps := []error{
		dir("etc/", 0o755),
		file("etc/passwd", 0o644, 0, []byte(passwd)),
		file("etc/group", 0o644, 0, []byte(group)),
		dir("tmp/", 0o1777),
		file(strings.TrimPrefix(entrypoint, "/"), 0o755, 0, binary),
	}
	for _, err := range steps {
		if err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
