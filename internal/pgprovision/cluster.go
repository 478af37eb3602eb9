package pgprovision

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

const (
	superuser        = "postgres" // the cluster's superuser role, whatever the OS user
	loopbackHost     = "127.0.0.1"
	pidPollInterval  = 100 * time.Millisecond
	maxStartAttempts = 3 // a free port can be taken between choosing it and binding it
	childWaitDelay   = 5 * time.Second
)

// clusterConf is appended to postgresql.conf after initdb. The port is chosen at each start.
const clusterConf = `
# Added by dotmac (internal/pgprovision): loopback TCP only, no Unix socket.
# The port is chosen at each start (pg_ctl start -o "-p PORT").
listen_addresses = '` + loopbackHost + `'
unix_socket_directories = ''
`

// cluster is a private PostgreSQL cluster under root: root/data is PGDATA, root/server.log
// the server log, root/.lock serializes dotmac processes setting it up or stopping it.
type cluster struct {
	root    string // absolute
	bins    binaries
	acct    account
	log     zerolog.Logger
	timeout time.Duration
}

func (c *cluster) dataPath() string { return filepath.Join(c.root, "data") }
func (c *cluster) logPath() string  { return filepath.Join(c.root, "server.log") }
func (c *cluster) lockPath() string { return filepath.Join(c.root, ".lock") }
func (c *cluster) pidPath() string  { return filepath.Join(c.dataPath(), "postmaster.pid") }

func (c *cluster) timeoutArg() string {
	return "--timeout=" + strconv.Itoa(max(1, int(c.timeout.Seconds())))
}

func (c *cluster) fail(op string, err error, detail string) *ClusterError {
	return &ClusterError{DataDir: c.root, Op: op, Detail: detail, Err: err}
}

// fromPrivateCluster starts (or reuses) the private cluster and ensures the database.
func fromPrivateCluster(ctx context.Context, o *Options) (*Result, error) {
	c, err := newCluster(ctx, o)
	if err != nil {
		return nil, err
	}
	port, started, err := c.ensureRunning(ctx)
	if err != nil {
		return nil, err
	}
	u := loopbackURL(superuser, net.JoinHostPort(loopbackHost, strconv.Itoa(port)), o.Database)
	if err := EnsureDatabase(ctx, u); err != nil {
		var stopErr error
		if started {
			stopErr = c.stop(ctx)
		}
		return nil, errors.Join(c.fail("create database "+o.Database, err, ""), stopErr)
	}
	res := &Result{URL: u, Source: SourcePrivate, Stop: noStop}
	if started {
		res.Stop = stopOnce(c.stop)
	}
	return res, nil
}

// stopOnce makes stop a no-op after it first succeeds, so a late second call cannot stop a
// cluster that another process has started since.
func stopOnce(stop func(context.Context) error) func(context.Context) error {
	var mu sync.Mutex
	stopped := false
	return func(ctx context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return nil
		}
		err := stop(ctx)
		stopped = err == nil
		return err
	}
}

// newCluster finds the binaries and the account, and creates DataDir reachable by it.
func newCluster(ctx context.Context, o *Options) (*cluster, error) {
	root, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("resolve data directory %s: %w", o.DataDir, err)
	}
	c := &cluster{root: root, log: o.Logger, timeout: o.StartTimeout}
	dirs := o.BinDirs
	if dirs == nil {
		dirs = defaultBinDirs(ctx)
	}
	if c.bins, err = findBinaries(dirs, c.dataVersion()); err != nil {
		return nil, &NotFoundError{Addrs: o.LocalAddrs, DataDir: o.DataDir}
	}
	if c.acct, err = chooseAccount(o.RunAsUser); err != nil {
		return nil, c.fail("choose the user to run PostgreSQL as", err, "")
	}
	if c.acct.switchTo {
		c.log.Info().Str("user", c.acct.name).Uint32("uid", c.acct.uid).
			Msg("dotmac runs as root, which PostgreSQL refuses: the private cluster runs as this system user")
	}
	if err := c.acct.mkdirAll(root); err != nil {
		return nil, c.fail("create the data directory", err, "")
	}
	if err := c.acct.checkReachable(root); err != nil {
		return nil, c.fail("check the data directory", err, "")
	}
	return c, nil
}

// dataVersion is the major version in PGDATA/PG_VERSION, or "" before initdb.
func (c *cluster) dataVersion() string {
	b, err := os.ReadFile(filepath.Join(c.dataPath(), "PG_VERSION")) // #nosec G304 -- under DataDir
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// ensureRunning returns the port of the cluster, reusing a running one (started=false) or
// initializing it once and starting it (started=true), under the lock file.
func (c *cluster) ensureRunning(ctx context.Context) (port int, started bool, err error) {
	unlock, err := lockFile(ctx, c.lockPath())
	if err != nil {
		return 0, false, c.fail("lock", err, "")
	}
	defer unlock()
	if port, ok, err := c.waitRunning(ctx); err != nil || ok {
		if ok {
			c.log.Info().Int("port", port).Str("data_dir", c.dataPath()).Msg("reusing the running private PostgreSQL cluster")
		}
		return port, false, err
	}
	if c.dataVersion() == "" {
		if err := c.initdb(ctx); err != nil {
			return 0, false, err
		}
	}
	port, err = c.start(ctx)
	return port, err == nil, err
}

// waitRunning returns the port of a server already running on PGDATA, waiting up to the
// start timeout while it is starting or stopping. ok is false when none is running (a stale
// postmaster.pid counts as none: the server replaces it when it starts).
func (c *cluster) waitRunning(ctx context.Context) (port int, ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	for {
		pf, err := readPIDFile(c.pidPath())
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return 0, false, nil
		case err != nil && !errors.Is(err, errPIDFileIncomplete):
			return 0, false, c.fail("inspect the running server", err, "")
		case err == nil && !processAlive(pf.pid):
			return 0, false, nil
		case err == nil && pf.status == statusReady:
			return pf.port, true, nil
		}
		select {
		case <-ctx.Done():
			return 0, false, c.fail("wait for the server already starting or stopping", ctx.Err(), "status "+pf.status)
		case <-time.After(pidPollInterval):
		}
	}
}

// initdb creates PGDATA owned by the account and initializes it: superuser postgres, trust
// authentication (the server listens on loopback only), UTF8 with the C locale, checksums.
func (c *cluster) initdb(ctx context.Context) error {
	data := c.dataPath()
	if err := os.Mkdir(data, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return c.fail("create PGDATA", err, "")
	}
	if err := c.acct.chown(data); err != nil {
		return c.fail("create PGDATA", err, "")
	}
	out, err := c.run(ctx, "initdb", "--pgdata="+data, "--username="+superuser, "--auth=trust",
		"--encoding=UTF8", "--locale=C", "--data-checksums")
	if err != nil {
		return c.fail("initdb", err, tailLines(out, maxDetailLines))
	}
	if err := appendFile(filepath.Join(data, "postgresql.conf"), clusterConf); err != nil {
		return c.fail("configure", err, "")
	}
	c.log.Info().Str("data_dir", data).Str("bin_dir", c.bins.dir).Msg("initialized a private PostgreSQL cluster")
	return nil
}

// start starts the server on a free loopback port and waits until it accepts connections.
func (c *cluster) start(ctx context.Context) (int, error) {
	if err := c.acct.createOwned(c.logPath(), 0o600); err != nil {
		return 0, c.fail("create the server log", err, "")
	}
	var err *ClusterError
	for range maxStartAttempts {
		port, portErr := freePort(ctx)
		if portErr != nil {
			return 0, c.fail("choose a port", portErr, "")
		}
		if err = c.startOn(ctx, port); err == nil {
			c.log.Info().Int("port", port).Str("data_dir", c.dataPath()).Str("log", c.logPath()).
				Msg("started a private PostgreSQL cluster")
			return port, nil
		}
		if !strings.Contains(err.Detail, "could not create any TCP/IP sockets") {
			break
		}
	}
	return 0, err
}

func (c *cluster) startOn(ctx context.Context, port int) *ClusterError {
	offset := fileSize(c.logPath())
	out, err := c.run(ctx, "pg_ctl", "start", "--pgdata="+c.dataPath(), "--log="+c.logPath(),
		"--wait", c.timeoutArg(), "--options=-p "+strconv.Itoa(port))
	if err != nil {
		detail := tailLines(readFrom(c.logPath(), offset), maxDetailLines)
		if detail == "" {
			detail = tailLines(out, maxDetailLines)
		}
		return c.fail("pg_ctl start", err, detail)
	}
	return nil
}

// stop stops the server with pg_ctl's fast mode (open transactions roll back, committed
// data is safe). Stopping a cluster that is not running is a no-op.
func (c *cluster) stop(ctx context.Context) error {
	unlock, err := lockFile(ctx, c.lockPath())
	if err != nil {
		return c.fail("lock", err, "")
	}
	defer unlock()
	if pf, err := readPIDFile(c.pidPath()); errors.Is(err, fs.ErrNotExist) || (err == nil && !processAlive(pf.pid)) {
		return nil
	}
	out, err := c.run(ctx, "pg_ctl", "stop", "--pgdata="+c.dataPath(), "--mode=fast", "--wait", c.timeoutArg())
	if err != nil {
		return c.fail("pg_ctl stop", err, tailLines(out, maxDetailLines))
	}
	c.log.Info().Str("data_dir", c.dataPath()).Msg("stopped the private PostgreSQL cluster")
	return nil
}
