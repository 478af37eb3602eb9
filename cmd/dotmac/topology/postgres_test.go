//go:build scale

package topology_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pgBinDir holds the PostgreSQL 15 server programs (PG_BIN_DIR overrides).
func pgBinDir() string {
	if d := os.Getenv("PG_BIN_DIR"); d != "" {
		return d
	}
	return "/usr/lib/postgresql/15/bin"
}

// pgServer is one PostgreSQL server of the test, under its own directory, on its own port.
type pgServer struct {
	name string
	root string // holds data/, server.log and the Unix socket
	port int
	cred *syscall.Credential // as whom the programs run (root: the postgres system user)
}

func (s *pgServer) data() string { return filepath.Join(s.root, "data") }

// url is the server's URL of database db as the postgres superuser.
func (s *pgServer) url(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.port, db)
}

// pgCredential is nil when the test does not run as root; PostgreSQL refuses to run as root,
// so as root its programs run as the postgres system user.
func pgCredential(t *testing.T) *syscall.Credential {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	require.NoError(t, err, "running as root: the postgres system user runs the servers")
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	require.NoError(t, err)
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	require.NoError(t, err)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// newPGServer makes root for a server owned by cred's user.
func newPGServer(t *testing.T, name, parent string, cred *syscall.Credential) *pgServer {
	t.Helper()
	s := &pgServer{name: name, root: filepath.Join(parent, name), cred: cred}
	require.NoError(t, os.Mkdir(s.root, 0o700))
	if cred != nil {
		require.NoError(t, os.Chmod(parent, 0o711)) // the postgres user passes through
		require.NoError(t, os.Chown(s.root, int(cred.Uid), int(cred.Gid)))
	}
	return s
}

// run runs a PostgreSQL program as the server's user and returns its output.
func (s *pgServer) run(ctx context.Context, t *testing.T, program string, args ...string) string {
	t.Helper()
	out, err := s.try(ctx, program, args...)
	require.NoError(t, err, "%s %s: %s", program, strings.Join(args, " "), out)
	return out
}

func (s *pgServer) try(ctx context.Context, program string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(pgBinDir(), program), args...) // #nosec G204 -- the test's own arguments
	cmd.Dir = s.root
	cmd.Env = []string{"LC_ALL=C", "PATH=" + os.Getenv("PATH")}
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kernelPort asks the kernel for a free loopback port. PostgreSQL cannot listen on port 0, so
// the port is handed to it right after; start retries with another when it was taken since.
func kernelPort(t *testing.T) int {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = l.Close() }()
	addr, ok := l.Addr().(*net.TCPAddr)
	require.True(t, ok, "a TCP listener has a TCP address")
	return addr.Port
}

// maxStartAttempts bounds start's retries on a port taken in the meantime.
const maxStartAttempts = 5

// start starts the server on a port from the kernel, its socket in its own directory, and
// waits until it accepts connections (a standby: read-only ones). Cleanup stops it.
func (s *pgServer) start(ctx context.Context, t *testing.T) {
	t.Helper()
	var out string
	var err error
	for range maxStartAttempts {
		s.port = kernelPort(t)
		out, err = s.try(ctx, "pg_ctl", "start", "-D", s.data(), "-l", filepath.Join(s.root, "server.log"), "-w", "-t", "60",
			"-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", s.port, s.root))
		if err == nil {
			t.Cleanup(func() { _, _ = s.try(context.Background(), "pg_ctl", "stop", "-D", s.data(), "-m", "immediate", "-w") })
			return
		}
		if log, _ := os.ReadFile(filepath.Join(s.root, "server.log")); !strings.Contains(string(log), "could not create any TCP/IP sockets") {
			break
		}
	}
	log, _ := os.ReadFile(filepath.Join(s.root, "server.log"))
	require.NoError(t, err, "pg_ctl start %s: %s\n%s", s.name, out, log)
}

// primaryConf lets a streaming replica follow the primary; fsync is off (a test cluster:
// speed over crash safety).
const primaryConf = `
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
max_connections = 300
fsync = off
full_page_writes = off
`

// startPrimaryAndReplica starts a primary and a hot standby streaming from it through a
// replication slot, made with pg_basebackup, under dir.
func startPrimaryAndReplica(ctx context.Context, t *testing.T, dir string) (primary, replica *pgServer) {
	t.Helper()
	cred := pgCredential(t)
	primary = newPGServer(t, "primary", dir, cred)
	primary.run(ctx, t, "initdb", "-D", primary.data(), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C")
	f, err := os.OpenFile(filepath.Join(primary.data(), "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.WriteString(primaryConf)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	primary.start(ctx, t)

	replica = newPGServer(t, "replica", dir, cred)
	replica.run(ctx, t, "pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port), "-U", "postgres",
		"-D", replica.data(), "-R", "-X", "stream", "-C", "-S", "topology_replica")
	replica.start(ctx, t)
	var recovery string
	require.Eventually(t, func() bool {
		var err error
		recovery, err = replica.sql(ctx, "SELECT pg_is_in_recovery() AND EXISTS (SELECT FROM pg_stat_wal_receiver WHERE status = 'streaming')")
		return err == nil && recovery == "t"
	}, 30*time.Second, 100*time.Millisecond, "the replica streams from the primary (last answer %q)", recovery)
	return primary, replica
}

// sql runs one statement with psql as the superuser (database postgres, or db) and returns its
// unaligned answer.
func (s *pgServer) sql(ctx context.Context, statement string, db ...string) (string, error) {
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "postgres", "-tAc", statement}
	if len(db) > 0 {
		args = append(args, "-d", db[0])
	}
	out, err := s.try(ctx, "psql", args...)
	return strings.TrimSpace(out), err
}
