package pgprovision

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// statusReady is postmaster.pid's status once the server accepts connections.
const statusReady = "ready"

// maxLogTailBytes bounds how much of the server log is read to explain a failure.
const maxLogTailBytes = 64 << 10

// maxDetailLines bounds the lines of tool output or server log quoted in a ClusterError.
const maxDetailLines = 5

// errPIDFileIncomplete: postmaster.pid lacks the pid or the port (it may be being written).
var errPIDFileIncomplete = errors.New("postmaster.pid is incomplete")

// pidFile is what this package needs from PGDATA/postmaster.pid.
type pidFile struct {
	pid, port int
	status    string // "starting", "ready", "stopping", "standby"; "" while starting
}

// readPIDFile reads postmaster.pid. A missing file yields an error matching fs.ErrNotExist.
func readPIDFile(path string) (pidFile, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- path is under DataDir
	if err != nil {
		return pidFile{}, fmt.Errorf("read postmaster.pid: %w", err)
	}
	return parsePIDFile(string(b))
}

// parsePIDFile parses the layout PostgreSQL 10 and later write: line 1 the pid, line 4 the
// port, line 8 the status (space-padded).
func parsePIDFile(s string) (pidFile, error) {
	lines := strings.Split(s, "\n")
	if len(lines) < 4 {
		return pidFile{}, errPIDFileIncomplete
	}
	pid, pidErr := strconv.Atoi(strings.TrimSpace(lines[0]))
	port, portErr := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err := errors.Join(pidErr, portErr); err != nil {
		return pidFile{}, fmt.Errorf("%w: %w", errPIDFileIncomplete, err)
	}
	pf := pidFile{pid: pid, port: port}
	if len(lines) >= 8 {
		pf.status = strings.TrimSpace(lines[7])
	}
	return pf, nil
}

// fileSize is the size of path, 0 if it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns path's content from offset on (at most maxLogTailBytes, the last ones),
// or "" if it cannot be read: it only explains another error.
func readFrom(path string, offset int64) string {
	f, err := os.Open(path) // #nosec G304 -- path is under DataDir
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	size := fileSize(path)
	offset = max(offset, size-maxLogTailBytes)
	b, err := io.ReadAll(io.NewSectionReader(f, offset, size-offset))
	if err != nil {
		return ""
	}
	return string(b)
}

// tailLines returns the last n non-blank lines of s joined by " | ", for one-line errors.
func tailLines(s string, n int) string {
	var lines []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			lines = append(lines, line)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
