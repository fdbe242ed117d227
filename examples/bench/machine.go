package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"

	"github.com/siamesenet/siamese/internal/gemm"
	"github.com/siamesenet/siamese/internal/vec"
	"golang.org/x/sys/cpu"
)

// machine names the CPU a table was measured on and the instruction sets
// the kernels use there, for the header of every table: figures from
// one kind of machine do not carry to another.
func machine() string {
	name, family, model := runtime.GOARCH, "", ""
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			switch {
			case k == "model name" && name == runtime.GOARCH:
				name = v
			case k == "cpu family" && family == "":
				family = v
			case k == "model" && model == "":
				model = v
			}
		}
	}
	if family != "" {
		name += fmt.Sprintf(" (family %s model %s)", family, model)
	}
	var isa []string
	for _, f := range []struct {
		has  bool
		name string
	}{{cpu.X86.HasAVX2, "avx2"}, {cpu.X86.HasFMA, "fma"}, {cpu.X86.HasAVX512F, "avx512f"}, {cpu.X86.HasAVX512VNNI, "avx512vnni"}, {cpu.X86.HasAVX512BF16, "avx512bf16"}} {
		if f.has {
			isa = append(isa, f.name)
		}
	}
	return fmt.Sprintf("%s, %d cores; CPU has %s; siamese uses %s for products, %s for distances", name, runtime.NumCPU(), strings.Join(isa, " "), productPath(), vecPath())
}

// productPath is the product kernel in use, and the CPU's best where
// that differs.
func productPath() string {
	if best := gemm.Best().String(); gemm.Name() != best && gemm.Name() != "openblas" {
		return gemm.Name() + " (best here: " + best + ")"
	}
	return gemm.Name()
}

func vecPath() string {
	if vec.Current() != vec.Best() {
		return vec.Current().String() + " (best here: " + vec.Best().String() + ")"
	}
	return vec.Current().String()
}

// useKernels forces the distance kernels' and the product micro-kernel's
// paths by name ("best": the CPU's best).
func useKernels(vecName, gemmName string) error {
	vecOK, gemmOK := vecName == "best", gemmName == "best"
	for p := vec.Generic; p <= vec.AVX512; p++ {
		if p.String() == vecName {
			vec.Use(p)
			vecOK = true
		}
	}
	for p := gemm.Generic; p <= gemm.AVX512; p++ {
		if p.String() == gemmName {
			gemm.Use(p)
			gemmOK = true
		}
	}
	if !vecOK {
		return fmt.Errorf("-vec %q: want best, avx512, avx2 or generic", vecName)
	}
	if !gemmOK {
		return fmt.Errorf("-gemm %q: want best, go-avx512, go-avx2 or go", gemmName)
	}
	return nil
}

// torchMachine says what the PyTorch reference runs on: its version and
// the instruction sets of its kernels and of oneDNN's convolutions.
func torchMachine(python, script string) string {
	var out bytes.Buffer
	cmd := exec.Command(python, script, "--describe")
	cmd.Env, cmd.Stdout = torchEnv(), &out
	if err := cmd.Run(); err != nil {
		return "PyTorch: not described (" + err.Error() + ")"
	}
	var d struct{ Torch, Aten, Onednn string }
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		return "PyTorch: not described (" + err.Error() + ")"
	}
	return fmt.Sprintf("PyTorch %s: its kernels %s, oneDNN's convolutions %s", d.Torch, d.Aten, d.Onednn)
}
