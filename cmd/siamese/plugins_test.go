package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/siamesenet/siamese/core"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds the CLI and the glyphs, faulty and shapes plugins once.
func binaries(t *testing.T) (cli, pluginDir string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds binaries")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "siamese-e2e-")
		if buildErr != nil {
			return
		}
		os.Mkdir(filepath.Join(binDir, "plugins"), 0o755)
		for out, pkg := range map[string]string{
			"siamese":                       ".",
			"plugins/siamese-domain-glyphs": "../../plugins/glyphs",
			"plugins/siamese-domain-faulty": "../../plugins/internal/faulty",
			"plugins/siamese-domain-shapes": "../../examples/plugin-shapes",
		} {
			if b, err := exec.Command("go", "build", "-o", filepath.Join(binDir, out), pkg).CombinedOutput(); err != nil {
				buildErr = err
				binDir = string(b)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("build: %v %s", buildErr, binDir)
	}
	return filepath.Join(binDir, "siamese"), filepath.Join(binDir, "plugins")
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" && strings.HasPrefix(binDir, os.TempDir()) {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// pluginProcesses counts running processes started from dir.
func pluginProcesses(dir string) int {
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && bytes.HasPrefix(b, []byte(dir)) {
			n++
		}
	}
	return n
}

func cliCmd(bin, pdir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"--plugin-dir", pdir}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func noOrphans(t *testing.T, pdir string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for pluginProcesses(pdir) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := pluginProcesses(pdir); n > 0 {
		t.Errorf("%d plugin processes left running", n)
	}
}

// The same seed gives the same model in process and out of process.
func TestPluginTrainsLikeBuiltIn(t *testing.T) {
	bin, pdir := binaries(t)
	dir := t.TempDir()
	models := map[string]string{"glyphs": filepath.Join(dir, "in.model"), "plugin:glyphs": filepath.Join(dir, "out.model")}
	for dom, out := range models {
		if b, err := cliCmd(bin, pdir, nil, "train", "--domain", dom, "--steps", "12", "--seed", "3", "--items", "24", "--pairs", "32", "--val-every", "6", "-o", out, "--json").CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", dom, err, b)
		}
		noOrphans(t, pdir)
	}
	a, err := core.Load(models["glyphs"])
	if err != nil {
		t.Fatal(err)
	}
	b, err := core.Load(models["plugin:glyphs"])
	if err != nil {
		t.Fatal(err)
	}
	if a.Info.LastLoss != b.Info.LastLoss || a.Threshold != b.Threshold {
		t.Errorf("loss %v vs %v, threshold %v vs %v", a.Info.LastLoss, b.Info.LastLoss, a.Threshold, b.Threshold)
	}
	for i, p := range a.Params() {
		for j, v := range p.Data {
			if d := v - b.Params()[i].Data[j]; d > 1e-6 || d < -1e-6 {
				t.Fatalf("%s[%d]: %v in process, %v out of process", p.Name, j, v, b.Params()[i].Data[j])
			}
		}
	}
	out, err := cliCmd(bin, pdir, nil, "eval", "--model", models["plugin:glyphs"], "--domain", "plugin:glyphs", "--task", "nope").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "nope") {
		t.Errorf("eval on an unknown task: %v\n%s", err, out)
	}
	noOrphans(t, pdir)
}

func TestPluginsListAndPin(t *testing.T) {
	bin, pdir := binaries(t)
	out, err := cliCmd(bin, pdir, nil, "plugins", "list").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "glyphs") || !strings.Contains(string(out), "1.0.0") || !strings.Contains(string(out), "faulty") {
		t.Fatalf("plugins list: %v\n%s", err, out)
	}
	noOrphans(t, pdir)
	// Pin a copy, change it, and see it refused.
	dir := t.TempDir()
	orig, _ := os.ReadFile(filepath.Join(pdir, "siamese-domain-glyphs"))
	p := filepath.Join(dir, "siamese-domain-glyphs")
	os.WriteFile(p, orig, 0o755)
	if out, err := cliCmd(bin, dir, nil, "plugins", "pin", "glyphs").CombinedOutput(); err != nil {
		t.Fatalf("pin: %v\n%s", err, out)
	}
	if out, err := cliCmd(bin, dir, nil, "train", "--domain", "plugin:glyphs", "--steps", "1", "-o", filepath.Join(dir, "m")).CombinedOutput(); err != nil {
		t.Fatalf("pinned, unchanged: %v\n%s", err, out)
	}
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte("tampered"))
	f.Close()
	out, err = cliCmd(bin, dir, nil, "train", "--domain", "plugin:glyphs", "--steps", "1", "-o", filepath.Join(dir, "m")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "pinned") {
		t.Fatalf("changed binary: %v\n%s", err, out)
	}
	noOrphans(t, dir)
}

// A plugin that crashes or hangs mid-training gives a clear error within
// seconds; the last checkpoint stays loadable; no plugin process is left.
func TestPluginCrashAndHang(t *testing.T) {
	bin, pdir := binaries(t)
	for _, fault := range []string{"crash:25", "hang:25"} {
		t.Run(fault, func(t *testing.T) {
			dir := t.TempDir()
			model := filepath.Join(dir, "m.model")
			cmd := cliCmd(bin, pdir, []string{"SIAMESE_FAULT=" + fault}, "--plugin-timeout", "2s", "train", "--domain", "faulty",
				"--steps", "1000", "--items", "12", "--pairs", "12", "--ckpt-every", "10", "-o", model)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			start := time.Now()
			err := cmd.Run()
			if err == nil {
				t.Fatal("training went on through a faulty plugin")
			}
			last := lastLine(stderr.String())
			want := map[string]string{"crash:25": "exited", "hang:25": "no answer within 2s"}[fault]
			if !strings.Contains(last, want) || !strings.Contains(last, "faulty") {
				t.Errorf("last line %q; want it to name the plugin and say %q", last, want)
			}
			if el := time.Since(start); el > 60*time.Second {
				t.Errorf("took %v", el)
			}
			m, err := core.Load(model + ".ckpt")
			if err != nil {
				t.Fatalf("checkpoint: %v", err)
			}
			if m.Info.Steps != 20 {
				t.Errorf("checkpoint at step %d, want 20", m.Info.Steps)
			}
			noOrphans(t, pdir)
		})
	}
}

func TestPluginCtrlC(t *testing.T) {
	bin, pdir := binaries(t)
	dir := t.TempDir()
	cmd := cliCmd(bin, pdir, nil, "train", "--domain", "plugin:glyphs", "--steps", "100000", "--items", "12", "--pairs", "12", "--ckpt-every", "5", "-o", filepath.Join(dir, "m.model"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dir, "m.model.ckpt")); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if pluginProcesses(pdir) == 0 {
		t.Error("no plugin process while training")
	}
	cmd.Process.Signal(syscall.SIGINT)
	cmd.Wait()
	noOrphans(t, pdir)
}

// A plugin that never answers the handshake is given up after
// --plugin-timeout, all of them at once in 'plugins list'; one that exits
// at once is one line with its exit status.
func TestPluginsThatNeverStart(t *testing.T) {
	bin, _ := binaries(t)
	pdir := t.TempDir()
	for name, script := range map[string]string{"hang1": "exec sleep 100", "hang2": "exec sleep 100", "hang3": "exec sleep 100", "exit": "exit 3"} {
		if err := os.WriteFile(filepath.Join(pdir, "siamese-domain-"+name), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	out, err := cliCmd(bin, pdir, nil, "--plugin-timeout", "1s", "plugins", "list").CombinedOutput()
	if el := time.Since(start); err != nil || el > 10*time.Second {
		t.Errorf("plugins list: %v after %s\n%s", err, el, out)
	}
	if n := strings.Count(string(out), "no handshake within 1s"); n != 3 || !strings.Contains(string(out), "exited with status 3") {
		t.Errorf("plugins list:\n%s", out)
	}
	out, err = cliCmd(bin, pdir, nil, "--plugin-timeout", "1s", "train", "--domain", "exit", "--steps", "1").CombinedOutput()
	if err == nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 || !strings.Contains(string(out), "plugin exit") || !strings.Contains(string(out), "status 3") {
		t.Errorf("a plugin that exits: %v\n%s", err, out)
	}
	noOrphans(t, pdir)
}
