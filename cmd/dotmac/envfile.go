package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// The --env-file format is the common subset of Docker Compose's env_file and systemd's
// EnvironmentFile: KEY=value lines, blank lines and # comments, an optional leading "export ",
// values in single quotes (literal) or double quotes (\" \\ \n \t \$ escapes) or unquoted
// (trimmed, ending at " #"). There is no ${VAR} expansion: a secret holding "$" stays as
// written. Anything else (a line without "=", a bad name, an unterminated quote, a variable
// set twice) is an error naming the file and line, never a line silently skipped.
//
// A small parser rather than github.com/joho/godotenv: that one expands ${VAR} in unquoted
// and double-quoted values from the environment (a password with a "$" changes silently),
// and it would be one more dependency of the binary for forty lines.

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseEnvFile returns the variables of an env file, in file order.
func parseEnvFile(name, text string) ([][2]string, error) {
	var out [][2]string
	seen := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, raw, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok {
			return nil, fmt.Errorf("%s:%d: not KEY=value", name, n)
		}
		if !envName.MatchString(key) {
			return nil, fmt.Errorf("%s:%d: %q is not a variable name", name, n, key)
		}
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("%s:%d: %s is already set on line %d", name, n, key, prev)
		}
		seen[key] = n
		val, err := envValue(strings.TrimSpace(raw))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", name, n, key, err)
		}
		out = append(out, [2]string{key, val})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func envValue(raw string) (string, error) {
	switch {
	case strings.HasPrefix(raw, "'"):
		end := strings.Index(raw[1:], "'")
		if end < 0 {
			return "", fmt.Errorf("unterminated ' quote")
		}
		if rest := strings.TrimSpace(raw[end+2:]); rest != "" && !strings.HasPrefix(rest, "#") {
			return "", fmt.Errorf("text after the closing quote: %q", rest)
		}
		return raw[1 : end+1], nil
	case strings.HasPrefix(raw, `"`):
		var b strings.Builder
		for i := 1; i < len(raw); i++ {
			c := raw[i]
			switch {
			case c == '\\' && i+1 < len(raw):
				i++
				switch raw[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case '"', '\\', '$':
					b.WriteByte(raw[i])
				default:
					return "", fmt.Errorf(`unknown escape \%c (use \" \\ \n \t \$)`, raw[i])
				}
			case c == '"':
				if rest := strings.TrimSpace(raw[i+1:]); rest != "" && !strings.HasPrefix(rest, "#") {
					return "", fmt.Errorf("text after the closing quote: %q", rest)
				}
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return "", fmt.Errorf(`unterminated " quote (a value spans one line; write a newline as \n)`)
	default:
		if i := strings.Index(raw, " #"); i >= 0 {
			raw = raw[:i]
		}
		return strings.TrimSpace(raw), nil
	}
}

// loadEnvFile sets the file's variables that the environment leaves unset or empty: a
// variable set in the environment wins over the file.
func loadEnvFile(path string) error {
	text, err := os.ReadFile(path) // #nosec G304 -- the operator names the file
	if err != nil {
		return fmt.Errorf("--env-file: %w", err)
	}
	vars, err := parseEnvFile(path, string(text))
	if err != nil {
		return fmt.Errorf("--env-file %w", err)
	}
	for _, kv := range vars {
		if v, ok := os.LookupEnv(kv[0]); ok && v != "" {
			continue
		}
		if err := os.Setenv(kv[0], kv[1]); err != nil {
			return fmt.Errorf("--env-file %s: %s: %w", path, kv[0], err)
		}
	}
	return nil
}
