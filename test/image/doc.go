// Package image checks the container image `make image` writes, by reading
// its OCI image layout with the standard library only (not with the library
// that wrote it): an index with linux/amd64 and linux/arm64, each image
// running one static binary as 65532:65532 with no shell, and the amd64
// binary answering --version with the stamped version. `make test-image`
// builds the image and runs it.
package image
