package leaders

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// cacheVersion is the format of the cache file.
const cacheVersion = 1

type cacheFile struct {
	Version int    `json:"version"`
	Config  Config `json:"config"`
}

// readCache reads the cache file: nil without one; an error for one that
// cannot be read or parsed (the caller reports and ignores it).
func readCache(path string) (*Config, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var f cacheFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if f.Version != cacheVersion || f.Config.Pool == "" {
		return nil, fmt.Errorf("%s: not a version %d leader cache", path, cacheVersion)
	}
	return &f.Config, nil
}

// writeCache writes the cache file atomically: a temporary file in the same
// directory, synced, then renamed over it, so a crash leaves the old file or
// the new one, never half of one. A missing directory is made (0700): an
// agent names a file under its own state directory, which may be new.
func writeCache(path string, cfg *Config) error {
	if path == "" {
		return nil
	}
	c := *cfg
	c.Stale = false
	data, err := json.MarshalIndent(cacheFile{Version: cacheVersion, Config: c}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing to remove
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync() // make the rename durable
		dir.Close()
	}
	return nil
}
