package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMergeInto: the large run's section takes its numbered place in the
// report, replaces an earlier one of its number, and leaves the rest as it
// was.
func TestMergeInto(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	old := "# Benchmarks\n\nheader\n\n## 1. One\n\nbody 1\n\n## 9. Nine\n\nbody 9\n\n## 10b. Ten b\n\nbody 10b\n\n" +
		"## Go benchmarks of the hot paths\n\ngo\n"
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &report{}
	r.section("11. Large", "params", []string{"measure", "value"}, [][]string{{"a", "1"}})
	merged, err := r.mergeInto(path)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, line := range strings.Split(merged, "\n") {
		if strings.HasPrefix(line, "## ") {
			titles = append(titles, line)
		}
	}
	want := []string{"## 1. One", "## 9. Nine", "## 10b. Ten b", "## 11. Large", "## Go benchmarks of the hot paths"}
	if strings.Join(titles, "|") != strings.Join(want, "|") {
		t.Errorf("sections %q, want %q", titles, want)
	}
	if !strings.HasPrefix(merged, "# Benchmarks\n\nheader\n\n## 1. One\n\nbody 1\n\n## 9.") || !strings.Contains(merged, "body 10b\n\n## 11.") {
		t.Errorf("the other sections changed:\n%s", merged)
	}
	// Run again: the section is replaced, not added twice.
	if err := os.WriteFile(path, []byte(merged), 0o644); err != nil {
		t.Fatal(err)
	}
	r.sections[0] = strings.Replace(r.sections[0], "| a | 1 |", "| a | 2 |", 1)
	again, err := r.mergeInto(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(again, "## 11.") != 1 || !strings.Contains(again, "| a | 2 |") || strings.Contains(again, "| a | 1 |") {
		t.Errorf("merged again:\n%s", again)
	}
	if _, err := r.mergeInto(filepath.Join(t.TempDir(), "missing.md")); err == nil {
		t.Error("merging into a missing report: no error")
	}
}
