package bench

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/projections"
)

// serverStartTimeout bounds how long the server under test may take to become ready (it
// catches its projections up first).
const serverStartTimeout = 5 * time.Minute

// server is `dotmac serve` running as a child process on the scratch database, so that its
// memory is measured on its own.
type server struct {
	cmd *exec.Cmd
	// others, with Config.RolesApart, are the query and the projector roles' processes (cmd
	// then plays the command role, process managers included).
	others       []*exec.Cmd
	othersReady  []string // each other process's admin /readyz (the projector's says its projections run)
	commandURL   string
	queryURL     string
	adminURL     string // the admin listener: metrics, readiness, pprof
	token        string
	dir          string
	mu           sync.Mutex
	phase        string           // what the server is doing: phaseStart, then each scenario's name
	rssByPhase   map[string]int64 // kB, the peak of each phase
	stopSampling chan struct{}
	sampled      chan struct{}
}

// startServer runs the server under test once and returns it.
func (r *run) startServer(ctx context.Context) (*server, error) {
	if r.server != nil {
		return r.server, nil
	}
	if err := r.generate(ctx); err != nil { // the server serves the generated history
		return nil, err
	}
	dir, err := os.MkdirTemp("", "dotmac-bench-")
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(dir, "signing.key")
	if err := r.signHistory(ctx, keyFile); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	if err := r.settle(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	secret := randomHex(32)
	key, err := auth.HS256([]byte(secret))
	if err != nil {
		return nil, err
	}
	token, err := key.Mint(auth.Principal{Subject: "bench", Tenant: "demo", Permissions: []string{auth.All}}, time.Now(), 24*time.Hour)
	if err != nil {
		return nil, err
	}
	cmdAddr, queryAddr, adminAddr := freeAddr(), freeAddr(), freeAddr()
	s := &server{commandURL: "http://" + cmdAddr, queryURL: "http://" + queryAddr, adminURL: "http://" + adminAddr, token: token, dir: dir,
		rssByPhase:   map[string]int64{},
		stopSampling: make(chan struct{}), sampled: make(chan struct{})}
	env := append(os.Environ(), "DATABASE_URL="+r.url, "DOTMAC_COMMAND_ADDR="+cmdAddr, "DOTMAC_QUERY_ADDR="+queryAddr,
		"DOTMAC_JWT_SECRET="+secret, "DOTMAC_JWT_PUBLIC_KEY=", "LOG_LEVEL=warn", "LOG_FORMAT=json", "DOTMAC_DATA_DIR="+dir,
		"DOTMAC_EVENTSTORE=postgres", "DOTMAC_ADMIN_ADDR="+adminAddr, "DOTMAC_PPROF=true", "DOTMAC_SIGNING_KEY_FILE="+keyFile)
	env = append(env, wholeSystem(r.cfg.Logger, os.LookupEnv)...)
	if r.cfg.RolesApart {
		// The last entry of a name wins: each role's process listens on its own address
		// (the others on unused ones) and has an admin listener of its own.
		for _, role := range []string{"query", "projector"} {
			admin := freeAddr()
			other, err := startServe(ctx, r.cfg.Binary, slices.Concat(env, []string{"DOTMAC_ROLE=" + role,
				"DOTMAC_PROCESS_MANAGERS=false", "DOTMAC_ADMIN_ADDR=" + admin}), filepath.Join(dir, "serve-"+role+".log"))
			if err != nil {
				s.stopOthers()
				return nil, err
			}
			s.others, s.othersReady = append(s.others, other), append(s.othersReady, "http://"+admin+"/readyz")
		}
		env = slices.Concat(env, []string{"DOTMAC_ROLE=command"})
	}
	if s.cmd, err = startServe(ctx, r.cfg.Binary, env, filepath.Join(dir, "serve.log")); err != nil {
		s.stopOthers()
		return nil, err
	}
	r.server = s
	s.setPhase(phaseStart)
	go s.sampleRSS()
	if err := s.waitReady(ctx); err != nil {
		return nil, fmt.Errorf("%w (logs: %s/serve*.log)", err, dir)
	}
	r.cfg.Progress("waiting for the server's projections to reach the head", 0, 0)
	if err := r.waitProjected(ctx); err != nil {
		return nil, err
	}
	r.cfg.Progress("waiting for the server's first scheduler tick (overdue marks, dunning sweep)", 0, 0)
	if err := s.waitFirstTick(ctx); err != nil {
		return nil, err
	}
	// The server's catch-up wrote its read models and the process managers' tables after
	// settle's checkpoint (for the 100,000 customers of a bill day, 256 MB of WAL): the
	// checkpoint max_wal_size then forces started within the first measured phase, earlier
	// the more the catch-up wrote, and charged it with the set-up's writes and the full-page
	// images that follow a checkpoint. Every phase starts from a checkpoint instead; one its
	// own writes force still runs within it, as it would in production.
	// The catch-up also left the tables it updates in place full of dead rows (at a million
	// events, 377,000 in the tracker's open invoices: its dunning check then read 4,500 heap
	// pages a call, a tenth of PostgreSQL's time per payment). Autovacuum, on as PostgreSQL
	// ships, would have vacuumed them within a minute of the catch-up; where it is off (the
	// report says so), the set-up's garbage is vacuumed here, not left to the measurements.
	if err := r.settle(ctx); err != nil {
		return nil, err
	}
	s.setPhase(r.phase) // started: from now on it serves the scenario that started it
	return s, nil
}

// signHistory signs checkpoints of the generated history with a new key written to keyFile,
// which the server under test is then given: a ledger that has run for a year has had its
// feed signed all along, and its signer only signs what is new. Left to the server, the first
// signing round (one --sign-interval after it starts) read and signed the whole history in
// the middle of a measured phase: at a million events, 22 checkpoints in 15 s of the commands.
func (r *run) signHistory(ctx context.Context, keyFile string) error {
	r.cfg.Progress("signing checkpoints of the generated history", 0, 0)
	key, err := audit.GenerateSigningKey()
	if err != nil {
		return err
	}
	if err := key.WriteKeyFiles(keyFile); err != nil {
		return err
	}
	store, err := r.store(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	signer, err := audit.NewSigner(audit.SignerConfig{Store: store, Checkpoints: audit.NewCheckpointStore(r.pool), Key: key, Logger: r.cfg.Logger})
	if err != nil {
		return err
	}
	if _, err := signer.Sign(ctx); err != nil {
		return fmt.Errorf("sign the generated history: %w", err)
	}
	return nil
}

// checkpoint flushes the cluster's dirty pages, so that no checkpoint owed to the set-up's
// writes runs during a measurement.
func (r *run) checkpoint(ctx context.Context) {
	if _, err := r.pool.Exec(ctx, "CHECKPOINT"); err != nil {
		// CHECKPOINT needs a superuser or pg_checkpoint: without, the run goes on unsettled.
		r.cfg.Logger.Warn().Err(err).Msg("bench: no CHECKPOINT before the measurements")
	}
}

// wholeSystemEnv are the settings of the server under test the harness relies on: every role
// in the one process (its commands, reads and projections are what is measured) and the
// process managers (whose tracker it waits for, and whose work is part of each command's).
// The rest of the environment passes through, so a setting can be compared (DOTMAC_GC_PERCENT,
// DOTMAC_DB_COMMAND_CONNS, ...).
var wholeSystemEnv = []struct{ name, value string }{
	{"DOTMAC_ROLE", "command,query,projector"},
	{"DOTMAC_PROCESS_MANAGERS", "true"},
}

// wholeSystem returns wholeSystemEnv as environment entries, to follow the inherited
// environment (the last entry of a name wins), and warns of each inherited value it overrides:
// a server without its process managers, say, left the harness waiting for their tracker.
func wholeSystem(log zerolog.Logger, lookup func(string) (string, bool)) []string {
	out := make([]string, 0, len(wholeSystemEnv))
	for _, e := range wholeSystemEnv {
		if v, ok := lookup(e.name); ok && v != e.value {
			log.Warn().Str("variable", e.name).Str("inherited", v).Str("used", e.value).
				Msg("bench: the server under test runs the whole system; the inherited value is overridden")
		}
		out = append(out, e.name+"="+e.value)
	}
	return out
}

// waitFirstTick waits until the server's process managers finished their first scheduler
// tick: over a history it has not seen, that tick marks invoices overdue and sweeps dunning
// for every customer in arrears, work that would otherwise run inside the measurements.
func (s *server) waitFirstTick(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, serverStartTimeout)
	defer cancel()
	for {
		n, err := s.metric(ctx, `dotmac_process_ticks_total{result="ok"}`)
		if err == nil && n >= 1 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("the server under test finished no scheduler tick: %w (reading its metrics: %w)", ctx.Err(), err)
			}
			return fmt.Errorf("the server under test finished no scheduler tick: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// metric reads one sample of the server's /metrics, on its admin listener (0 when it is not
// there yet).
func (s *server) metric(ctx context.Context, series string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.adminURL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, sc.Err()
}

// settle does what pgbench does before its runs, and a checkpoint: the freshly written
// tables get their visibility map and statistics, and their dirty pages are flushed, so that
// neither autovacuum nor a checkpoint's writes run in the middle of the measurements.
func (r *run) settle(ctx context.Context) error {
	r.cfg.Progress("vacuum, analyze and checkpoint the scratch database", 0, 0)
	if _, err := r.pool.Exec(ctx, "VACUUM (ANALYZE)"); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	r.checkpoint(ctx)
	// The generator leaves gigabytes of garbage in this process, which a rebuild or verify
	// run as its own command (as `dotmac projections rebuild` and `dotmac audit verify` run)
	// never sees: collect it and return it to the OS before the clock starts.
	debug.FreeOSMemory()
	return nil
}

// waitProjected waits until every projection of the server under test has applied the whole
// history: a server still catching up would measure its catch-up, not its steady state.
func (r *run) waitProjected(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, serverStartTimeout)
	defer cancel()
	head, err := r.waitProjections(ctx)
	if err != nil {
		return err
	}
	return r.waitTracker(ctx, head)
}

// waitProjections waits until every projection of the server under test has applied the
// feed up to its head when called, and returns that head. The process managers' tracker is
// not waited for: it catches up on demand (a dunning decision, a scheduler tick), not as the
// feed grows.
func (r *run) waitProjections(ctx context.Context) (eventstore.Position, error) {
	rt, store, closeAll, err := r.runtime(ctx)
	if err != nil {
		return 0, err
	}
	defer closeAll()
	head, err := store.Head(ctx)
	if err != nil {
		return 0, err
	}
	for _, name := range rt.Names() {
		if _, err := rt.WaitFor(ctx, name, head); err != nil {
			return 0, fmt.Errorf("projection %s of the server under test: %w", name, err)
		}
	}
	return head, nil
}

// waitTracker waits until the process managers' tracker (their private projection of the
// feed, caught up on the first scheduler tick) has reached head.
func (r *run) waitTracker(ctx context.Context, head eventstore.Position) error {
	for {
		var pos int64
		err := r.pool.QueryRow(ctx, `SELECT coalesce(position, 0) FROM feed_checkpoints WHERE consumer = 'process.tracker'`).Scan(&pos)
		if err == nil && eventstore.Position(pos) >= head { //nolint:gosec // positions are positive
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the process managers' tracker of the server under test: %w", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// startServe starts `dotmac serve` from binary with env, its output into logPath.
func startServe(ctx context.Context, binary string, env []string, logPath string) (*exec.Cmd, error) {
	cmd := exec.CommandContext(ctx, binary, "serve")                        // #nosec G204 -- our own binary
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGINT) } // let it shut down cleanly
	cmd.WaitDelay = 30 * time.Second
	cmd.Env = env
	logFile, err := os.Create(logPath) // #nosec G304 -- our own temporary directory
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("start the server under test: %w", err)
	}
	return cmd, nil
}

func (s *server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, serverStartTimeout)
	defer cancel()
	for {
		if ready(ctx, s.commandURL+"/readyz") && ready(ctx, s.queryURL+"/readyz") && allReady(ctx, s.othersReady) {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.New("the server under test did not become ready")
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func allReady(ctx context.Context, urls []string) bool {
	for _, u := range urls {
		if !ready(ctx, u) {
			return false
		}
	}
	return true
}

func ready(ctx context.Context, u string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// sampleRSS records the child's peak resident memory (VmRSS, every 100 ms); with the roles
// apart, the peak of the largest of their processes.
func (s *server) sampleRSS() {
	defer close(s.sampled)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stopSampling:
			return
		case <-t.C:
		}
		for _, pid := range s.pids() { // with the roles apart, the largest process's
			if kb, ok := vmRSS(pid); ok {
				s.mu.Lock()
				s.rssByPhase[s.phase] = max(s.rssByPhase[s.phase], kb)
				s.mu.Unlock()
			}
		}
	}
}

func vmRSS(pid int) (int64, bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// pids lists the server's processes.
func (s *server) pids() []int {
	out := []int{s.cmd.Process.Pid}
	for _, o := range s.others {
		out = append(out, o.Process.Pid)
	}
	return out
}

// stopOthers stops the processes of the roles apart.
func (s *server) stopOthers() {
	for _, o := range s.others {
		stopProcess(o)
	}
}

// phaseStart is the server's start: its catch-up of the generated history until it is ready
// and its projections reach the head.
const phaseStart = "start"

// setPhase names what the server does from now on, for the peaks of memory by phase.
func (s *server) setPhase(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phase = name
}

// memory returns the peak resident memory, overall and by phase, in MB.
func (s *server) memory() *Memory {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := &Memory{ByPhase: map[string]float64{}}
	for phase, kb := range s.rssByPhase {
		m.ByPhase[phase] = float64(kb) / 1024
		m.ServerRSSMBMax = max(m.ServerRSSMBMax, m.ByPhase[phase])
	}
	return m
}

func (s *server) stop() {
	s.stopOthers()
	stopProcess(s.cmd)
	close(s.stopSampling)
	<-s.sampled
	_ = os.RemoveAll(s.dir)
}

// stopProcess interrupts cmd and waits for it to end, killing it after 30 s.
func stopProcess(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

func freeAddr() string {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "127.0.0.1:0"
	}
	defer ln.Close()
	return ln.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// migrateAll applies what the in-process scenarios need; the server under test applies the
// rest when it starts.
func migrateAll(ctx context.Context, pool *pgxpool.Pool) error {
	return migrate.Up(ctx, pool, postgres.MigrationSet(), projections.MigrationSet(), audit.MigrationSet())
}

// profile saves a CPU profile of the server over d into dir/name (when dir is set), and the
// allocations made over the same d beside it (name with .pprof replaced by .allocs.pprof), and
// returns a function waiting for both.
func (s *server) profile(ctx context.Context, dir, name string, d time.Duration) func() {
	if dir == "" {
		return func() {}
	}
	base := strings.TrimSuffix(name, ".pprof")
	// The metrics as the phase begins too: a counter's change over the phase (the pools'
	// acquire waits, say) is the difference between the two files.
	s.save(ctx, dir, base+".metrics.start.txt", s.adminURL+"/metrics")
	cpu := s.fetchProfile(ctx, dir, name, "profile", d)
	allocs := s.fetchProfile(ctx, dir, base+".allocs.pprof", "allocs", d)
	return func() {
		cpu()
		allocs()
		// The server's metrics as the phase ends (cumulative since it started): the
		// latency histograms of its steps.
		s.save(ctx, dir, base+".metrics.txt", s.adminURL+"/metrics")
	}
}

// fetchProfile saves the server's pprof profile kind over d into dir/name and returns a
// function waiting for it.
func (s *server) fetchProfile(ctx context.Context, dir, name, kind string, d time.Duration) func() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		secs := max(1, int(d.Seconds()))
		s.save(ctx, dir, name, fmt.Sprintf("%s/debug/pprof/%s?seconds=%d", s.adminURL, kind, secs))
	}()
	return func() { <-done }
}

// save writes the body of a GET of url into dir/name, best effort.
func (s *server) save(ctx context.Context, dir, name, url string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return
	}
	f, err := os.Create(filepath.Join(dir, name)) // #nosec G304 -- the operator chose the directory
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = io.Copy(f, resp.Body)
}
