package plugins

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/siamesenet/siamese/internal/atomicfile"
)

// EnvDir names the environment variable with extra plugin folders
// (separated like PATH).
const EnvDir = "SIAMESE_PLUGIN_DIR"

// PinsFile is the file in a plugin folder that pins plugins by sha256.
const PinsFile = "pins.json"

// Dirs returns the plugin folders in search order: the flag's, those of
// SIAMESE_PLUGIN_DIR, then siamese/plugins under the user's config folder.
func Dirs(flagDir string) []string {
	var dirs []string
	if flagDir != "" {
		dirs = append(dirs, flagDir)
	}
	for _, d := range filepath.SplitList(os.Getenv(EnvDir)) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	if cfg, err := os.UserConfigDir(); err == nil {
		dirs = append(dirs, filepath.Join(cfg, "siamese", "plugins"))
	}
	return dirs
}

// Find returns the path of plugin name (the binary siamese-domain-NAME) in
// the first folder that has it, and that folder's pin for it.
func Find(name string, dirs []string) (path, pin string, err error) {
	for _, d := range dirs {
		p := filepath.Join(d, Prefix+name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			pins, err := ReadPins(d)
			if err != nil {
				return "", "", err
			}
			return p, pins[name], nil
		}
	}
	return "", "", fmt.Errorf("no plugin %q: no executable %s%s in %s", name, Prefix, name, strings.Join(dirs, ", "))
}

// ReadPins reads the pins of a plugin folder (name → sha256).
func ReadPins(dir string) (map[string]string, error) {
	raw, err := os.ReadFile(filepath.Join(dir, PinsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	pins := map[string]string{}
	if err := json.Unmarshal(raw, &pins); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, PinsFile), err)
	}
	return pins, nil
}

// Pin records the current sha256 of plugin name in its folder's pins file.
func Pin(dir, name string) (string, error) {
	sum, err := FileSHA256(filepath.Join(dir, Prefix+name))
	if err != nil {
		return "", err
	}
	pins, err := ReadPins(dir)
	if err != nil {
		return "", err
	}
	pins[name] = sum
	err = atomicfile.Write(filepath.Join(dir, PinsFile), 0o644, func(w *bufio.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(pins)
	})
	return sum, err
}

// Info describes an installed plugin.
type Info struct {
	Name     string `json:"name"`
	Version  string `json:"version"`
	Protocol int    `json:"protocol"`
	Path     string `json:"path"`
	SHA256   string `json:"sha256"`
	Pinned   bool   `json:"pinned"`
	Error    string `json:"error,omitempty"`
}

// List starts every plugin in dirs to read its name and version, all at
// once, each bounded by o.Timeout.
func List(ctx context.Context, dirs []string, o Options) []Info {
	var out []Info
	seen := map[string]bool{}
	for _, d := range dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		pins, _ := ReadPins(d)
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), Prefix) || e.IsDir() {
				continue
			}
			name := strings.TrimPrefix(e.Name(), Prefix)
			if seen[name] {
				continue // shadowed by an earlier folder
			}
			seen[name] = true
			out = append(out, Info{Name: name, Path: filepath.Join(d, e.Name()), Pinned: pins[name] != ""})
			out[len(out)-1].SHA256 = pins[name] // the pin, until the plugin is looked at
		}
	}
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func(info *Info) {
			defer wg.Done()
			oo := o
			oo.Pin, info.SHA256 = info.SHA256, ""
			info.SHA256, _ = FileSHA256(info.Path)
			p, err := Start(info.Path, oo)
			if err != nil {
				info.Error = err.Error()
				return
			}
			defer p.Close()
			info.Protocol = p.Protocol
			if n, v, err := p.About(ctx); err == nil {
				info.Name, info.Version = n, v
			} else {
				info.Error = err.Error()
			}
		}(&out[i])
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
