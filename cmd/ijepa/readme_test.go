package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ijepa-go/ijepa/internal/testdep"
)

// readmeSection returns the README's section under the heading title, up
// to the next section.
func readmeSection(t *testing.T, title string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n## "+title+"\n")
	if i < 0 {
		t.Fatalf("README.md has no section %q", title)
	}
	s = s[i+1:]
	if j := strings.Index(s[3:], "\n## "); j >= 0 {
		s = s[:j+3]
	}
	return s
}

// codeBlocks returns the bodies of the section's fenced blocks of a
// language.
func codeBlocks(section, lang string) []string {
	var out []string
	for _, part := range strings.Split(section, "```"+lang+"\n")[1:] {
		if end := strings.Index(part, "```"); end >= 0 {
			out = append(out, part[:end])
		}
	}
	return out
}

// The README's "Features for your own task" runs as written: its
// fashion.yaml and its five commands, in a folder holding a generated
// dataset in the MNIST layout at data/fashion (256 training and 64 test
// images: the config's 10 epochs are 20 steps) and the repository's
// scripts/. The Python step needs Debian's python3-torch; without it the
// test stops there and says so (fails under the test command, testdep).
func TestReadmeFeatures(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model")
	}
	sec := readmeSection(t, "Features for your own task")
	yaml, sh := codeBlocks(sec, "yaml"), codeBlocks(sec, "sh")
	if len(yaml) != 1 || len(sh) != 1 {
		t.Fatalf("the section has %d yaml and %d sh blocks, want one of each", len(yaml), len(sh))
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeMNIST(t, filepath.Join(dir, "data", "fashion"), 256, 64)
	if err := os.WriteFile(filepath.Join(dir, "fashion.yaml"), []byte(yaml[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(repo, "scripts"), filepath.Join(dir, "scripts")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	var cmds []string
	for _, line := range strings.Split(sh[0], "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			cmds = append(cmds, line)
		}
	}
	if len(cmds) != 5 {
		t.Fatalf("%d commands, the section promises five:\n%s", len(cmds), sh[0])
	}
	for _, c := range cmds {
		args := strings.Fields(c)
		switch args[0] {
		case "ijepa":
			code, out, errs := run(args[1:]...)
			if code != 0 {
				t.Fatalf("%s: exit %d\n%s%s", c, code, out, errs)
			}
			t.Logf("%s\n%s", c, out)
		case "python3":
			py := testdep.Torch(t)
			out, err := exec.Command(py, args[1:]...).CombinedOutput()
			if err != nil {
				t.Fatalf("%s: %v\n%s", c, err, out)
			}
			t.Logf("%s\n%s", c, out)
			if !strings.Contains(string(out), "loaded with strict=True") || !strings.Contains(string(out), "max relative difference") {
				t.Errorf("%s: the output does not say it loaded and compared:\n%s", c, out)
			}
		default:
			t.Fatalf("%s: a command of neither ijepa nor python3", c)
		}
	}
	for _, f := range []string{"fashion-test.npy", "fashion-test_labels.npy", "fashion-encoder.safetensors", "runs/fashion/features"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the commands left no %s: %v", f, err)
		}
	}
}
