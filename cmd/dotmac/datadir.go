package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
)

// modulePath is the module a repository of DotMac Ledger declares in its go.mod.
const modulePath = "github.com/dotmac/ledger"

// dataDir is where a command keeps local state, and the rule that chose it.
type dataDir struct {
	path string
	rule string
}

// resolveDataDir applies the one data-dir rule every command follows: --data-dir, else
// DOTMAC_DATA_DIR, else var/ of the repository containing the working directory, else var/ of
// the repository the binary is in, else ./var. So `dotmac token` run anywhere in the checkout
// finds the key `make run` created at the repository root.
func resolveDataDir(flag string, flagSet bool) dataDir {
	switch {
	case flagSet:
		return dataDir{path: flag, rule: "--data-dir"}
	case os.Getenv("DOTMAC_DATA_DIR") != "":
		return dataDir{path: os.Getenv("DOTMAC_DATA_DIR"), rule: "DOTMAC_DATA_DIR"}
	}
	if wd, err := os.Getwd(); err == nil {
		if root, ok := repositoryOf(wd); ok {
			return dataDir{path: filepath.Join(root, "var"), rule: "var/ of the repository containing the working directory"}
		}
	}
	if exe, err := os.Executable(); err == nil {
		if exe, err = filepath.EvalSymlinks(exe); err == nil {
			if root, ok := repositoryOf(filepath.Dir(exe)); ok {
				return dataDir{path: filepath.Join(root, "var"), rule: "var/ of the repository the dotmac binary is in"}
			}
		}
	}
	return dataDir{path: "var", rule: "./var (no DotMac Ledger repository around the working directory or the binary)"}
}

// repositoryOf walks up from dir to the directory whose go.mod declares modulePath.
func repositoryOf(dir string) (string, bool) {
	for {
		if declaresModule(filepath.Join(dir, "go.mod")) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func declaresModule(gomod string) bool {
	raw, err := os.ReadFile(gomod) // #nosec G304 -- a go.mod above the working directory
	if err != nil {
		return false
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if name, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(name), `"`) == modulePath
		}
	}
	return false
}
