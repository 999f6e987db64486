package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// The parts of the OCI image spec this test reads.
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

type index struct {
	MediaType string       `json:"mediaType"`
	Manifests []descriptor `json:"manifests"`
}

type manifest struct {
	MediaType string       `json:"mediaType"`
	Config    descriptor   `json:"config"`
	Layers    []descriptor `json:"layers"`
}

type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Config       struct {
		User       string            `json:"User"`
		Entrypoint []string          `json:"Entrypoint"`
		Cmd        []string          `json:"Cmd"`
		Labels     map[string]string `json:"Labels"`
	} `json:"config"`
	RootFS struct {
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
}

const (
	entrypoint = "/leaderhub-apiserver"
	nonroot    = "65532:65532"
)

// shells are the programs an image without a shell must not have.
var shells = []string{"sh", "bash", "ash", "dash", "busybox", "zsh"}

// layout is the OCI image layout `make image` wrote.
type layout string

// blob reads a blob by digest, checking the digest and, when known, the size.
func (l layout) blob(t *testing.T, d descriptor) []byte {
	t.Helper()
	algo, hexDigest, ok := strings.Cut(d.Digest, ":")
	if !ok || algo != "sha256" {
		t.Fatalf("digest %q is not sha256", d.Digest)
	}
	data, err := os.ReadFile(filepath.Join(string(l), "blobs", algo, hexDigest))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != hexDigest {
		t.Fatalf("blob %s does not match its digest", d.Digest)
	}
	if d.Size != 0 && int64(len(data)) != d.Size {
		t.Fatalf("blob %s is %d bytes, descriptor says %d", d.Digest, len(data), d.Size)
	}
	return data
}

func (l layout) json(t *testing.T, d descriptor, v any) {
	t.Helper()
	if err := json.Unmarshal(l.blob(t, d), v); err != nil {
		t.Fatalf("decoding %s: %v", d.Digest, err)
	}
}

func openLayout(t *testing.T) (layout, index) {
	t.Helper()
	dir := os.Getenv("LEADERHUB_IMAGE_LAYOUT")
	if dir == "" {
		t.Fatal("LEADERHUB_IMAGE_LAYOUT is not set; run `make test-image`, which builds the image first")
	}
	l := layout(dir)
	var top index
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatalf("no OCI layout at %s (run `make image`): %v", dir, err)
	}
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Fatalf("index.json should name one image index, got %+v", top.Manifests)
	}
	if want := os.Getenv("LEADERHUB_IMAGE_VERSION"); want != "" {
		if got := top.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; got != want {
			t.Errorf("ref name %q, want %q", got, want)
		}
	}
	var idx index
	l.json(t, top.Manifests[0], &idx)
	return l, idx
}

// files lists the image's files (type and mode by path) and returns the
// content of the entrypoint, reading every layer in order.
func (l layout) files(t *testing.T, m manifest) (map[string]*tar.Header, []byte) {
	t.Helper()
	files := map[string]*tar.Header{}
	var binary []byte
	for _, d := range m.Layers {
		if d.MediaType != "application/vnd.oci.image.layer.v1.tar+gzip" {
			t.Fatalf("layer media type %q", d.MediaType)
		}
		zr, err := gzip.NewReader(bytes.NewReader(l.blob(t, d)))
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			name := "/" + strings.TrimSuffix(path.Clean(h.Name), "/")
			files[name] = h
			if name == entrypoint {
				if binary, err = io.ReadAll(tr); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return files, binary
}

func TestImage(t *testing.T) {
	l, idx := openLayout(t)
	if idx.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("index media type %q", idx.MediaType)
	}
	var platforms []string
	for _, d := range idx.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		platform := d.Platform.OS + "/" + d.Platform.Architecture
		platforms = append(platforms, platform)
		t.Run(platform, func(t *testing.T) {
			var m manifest
			l.json(t, d, &m)
			var cfg imageConfig
			l.json(t, m.Config, &cfg)
			if cfg.OS != d.Platform.OS || cfg.Architecture != d.Platform.Architecture {
				t.Errorf("config says %s/%s", cfg.OS, cfg.Architecture)
			}
			if cfg.Config.User != nonroot {
				t.Errorf("User %q, want %q", cfg.Config.User, nonroot)
			}
			if !slices.Equal(cfg.Config.Entrypoint, []string{entrypoint}) || len(cfg.Config.Cmd) != 0 {
				t.Errorf("Entrypoint %q Cmd %q, want [%s] and none", cfg.Config.Entrypoint, cfg.Config.Cmd, entrypoint)
			}
			if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
				t.Errorf("%d diff_ids for %d layers", len(cfg.RootFS.DiffIDs), len(m.Layers))
			}

			files, binary := l.files(t, m)
			for name, h := range files {
				if slices.Contains(shells, path.Base(name)) {
					t.Errorf("image has a shell: %s", name)
				}
				if h.Typeflag == tar.TypeSymlink || h.Typeflag == tar.TypeLink {
					t.Errorf("image has a link: %s -> %s", name, h.Linkname)
				}
			}
			if h := files[entrypoint]; h == nil || h.Mode&0o111 == 0 {
				t.Fatalf("no executable %s in the image", entrypoint)
			}
			if tmp := files["/tmp"]; tmp == nil || tmp.Mode&0o1777 != 0o1777 {
				t.Errorf("/tmp missing or not sticky and world-writable")
			}
			checkStatic(t, binary, d.Platform.Architecture)
			if d.Platform.Architecture == runtime.GOARCH && d.Platform.OS == runtime.GOOS {
				checkVersion(t, binary, cfg.Config.Labels["org.opencontainers.image.version"])
			}
		})
	}
	slices.Sort(platforms)
	if want := []string{"linux/amd64", "linux/arm64"}; !slices.Equal(platforms, want) {
		t.Errorf("platforms %v, want %v", platforms, want)
	}
}

// checkStatic: an ELF for arch with no program interpreter (no libc needed).
func checkStatic(t *testing.T, binary []byte, arch string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		t.Fatalf("entrypoint is not an ELF binary: %v", err)
	}
	machines := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	if f.Machine != machines[arch] {
		t.Errorf("binary is for %v, want %s", f.Machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("binary is dynamically linked (has a program interpreter)")
		}
	}
}

// checkVersion runs the binary with --version: it prints the version the
// image is labeled with, stamped in at build time.
func checkVersion(t *testing.T, binary []byte, version string) {
	t.Helper()
	if version == "" {
		t.Fatal("image has no org.opencontainers.image.version label")
	}
	exe := filepath.Join(t.TempDir(), "leaderhub-apiserver")
	if err := os.WriteFile(exe, binary, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v: %s", err, out)
	}
	if got, want := string(out), fmt.Sprintf("leaderhub-apiserver %s\n", version); got != want {
		t.Errorf("--version printed %q, want %q", got, want)
	}
	out, err = exec.Command(exe, "--version=raw").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `GitVersion:"`+version+`"`) || strings.Contains(string(out), `GitCommit:"unknown"`) {
		t.Errorf("--version=raw: %v: %s", err, out)
	}
}
