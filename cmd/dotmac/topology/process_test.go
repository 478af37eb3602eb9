//go:build scale

package topology_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// dotmacBinary returns the binary under test: DOTMAC_BIN (absolute, or relative to this
// package's directory; make test-scale passes bin/dotmac's absolute path),
// else one built from ./cmd/dotmac into dir.
func dotmacBinary(t *testing.T, dir string) string {
	t.Helper()
	if b := os.Getenv("DOTMAC_BIN"); b != "" {
		abs, err := filepath.Abs(b)
		require.NoError(t, err)
		return abs
	}
	bin := filepath.Join(dir, "dotmac")
	cmd := exec.CommandContext(context.Background(), "go", "build", "-o", bin, "github.com/dotmac/ledger/cmd/dotmac")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// proc is one dotmac process of the topology: its role, the addresses its listeners bound
// (learnt from its "listening" log lines: every listener is on port 0) and its log.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string // file holding its stderr

	mu     sync.Mutex
	addrs  map[string]string
	lines  []string
	exited chan struct{}
}

// startProc starts `dotmac args...` with env and waits until each of apis listens.
func startProc(t *testing.T, bin, dir, name string, env []string, apis []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(dir, name+".log"), addrs: map[string]string{}, exited: make(chan struct{})}
	p.cmd = exec.CommandContext(context.Background(), bin, args...) // #nosec G204 -- the binary under test
	p.cmd.Env = append(cleanEnv(), env...)
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	logFile, err := os.Create(p.log)
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start(), name)
	ready := make(chan struct{})
	go p.read(stderr, logFile, apis, ready)
	t.Cleanup(func() { p.kill(syscall.SIGKILL) })
	select {
	case <-ready:
	case <-p.exited:
		t.Fatalf("%s exited before listening:\n%s", name, p.tail(40))
	case <-time.After(90 * time.Second):
		t.Fatalf("%s did not listen on %v within 90 s:\n%s", name, apis, p.tail(40))
	}
	return p
}

// read copies the process's log to its file, recording listening addresses, until it ends.
func (p *proc) read(r io.Reader, w *os.File, apis []string, ready chan struct{}) {
	defer close(p.exited)
	defer func() { _ = w.Close() }()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	signalled := false
	for sc.Scan() {
		line := sc.Text()
		_, _ = fmt.Fprintln(w, line)
		var rec struct {
			Msg  string `json:"message"`
			API  string `json:"api"`
			Addr string `json:"addr"`
		}
		_ = json.Unmarshal([]byte(line), &rec)
		p.mu.Lock()
		p.lines = append(p.lines, line)
		if rec.Msg == "listening" {
			p.addrs[rec.API] = rec.Addr
		}
		all := true
		for _, a := range apis {
			all = all && p.addrs[a] != ""
		}
		p.mu.Unlock()
		if all && !signalled {
			signalled = true
			close(ready)
		}
	}
	_ = p.cmd.Wait()
}

// url is the base URL of the process's api listener.
func (p *proc) url(api string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "http://" + p.addrs[api]
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// kill sends sig and waits for the process to end.
func (p *proc) kill(sig syscall.Signal) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(sig)
	<-p.exited
}

// tail returns the last n lines of the process's log.
func (p *proc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.lines[max(0, len(p.lines)-n):], "\n")
}

// logged counts the log lines whose message is msg.
func (p *proc) logged(msg string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, l := range p.lines {
		var rec struct {
			Msg string `json:"message"`
		}
		if json.Unmarshal([]byte(l), &rec) == nil && rec.Msg == msg {
			n++
		}
	}
	return n
}

// metric returns the value of the sample of name whose labels contain every label given
// ("" labels: the first sample of name), and whether there is one.
func (p *proc) metric(t *testing.T, name string, labels ...string) (float64, bool) {
	t.Helper()
	body, status := get(t, p.url("admin")+"/metrics", "")
	require.Equal(t, http.StatusOK, status)
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(line, l)
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64)
		require.NoError(t, err, line)
		return v, true
	}
	return 0, false
}

var httpClient = &http.Client{Timeout: 40 * time.Second}

// get sends a GET with an optional bearer token and returns the body and status.
func get(t *testing.T, url, token string) (string, int) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := httpClient.Do(req)
	require.NoError(t, err, "GET %s", url)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b), resp.StatusCode
}

// post sends a command and returns the decoded answer; it must succeed.
func post(t *testing.T, url, token, key string, body any) map[string]any {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader(string(b)))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Idempotency-Key", key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient.Do(req)
	require.NoError(t, err, "POST %s", url)
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Contains(t, []int{http.StatusOK, http.StatusCreated, http.StatusAccepted}, resp.StatusCode, "POST %s: %s", url, raw)
	out := map[string]any{}
	if len(raw) > 0 {
		require.NoError(t, json.Unmarshal(raw, &out), "POST %s: %s", url, raw)
	}
	return out
}
