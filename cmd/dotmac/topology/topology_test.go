//go:build scale

package topology_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
)

// The topology (make test-scale): PostgreSQL 15 primary and a hot standby made with
// pg_basebackup, one `dotmac migrate up`, two command processes, two projector processes and
// one query process reading from the standby, all plain processes with their own ports and
// directories. Bounds of the waits below: leases expire after consumer.DefaultLeaseTTL (15 s).
const (
	tenant        = "topo"
	jwtSecret     = "topology-test-secret-0123456789abcdef0123456789abcdef"
	customersEach = 8                // customers written through each command process per phase
	takeover      = 60 * time.Second // a lease expires (15 s), a standby takes it, catches up
)

type topology struct {
	t          *testing.T
	bin, dir   string
	env        []string // every dotmac process's variables
	primary    *pgServer
	replica    *pgServer
	commands   []*proc
	projectors []*proc
	query      *proc
	token      string // the tenant's
	operator   string // projections:read
	keys       int    // idempotency keys used
	extra      int    // customers written besides writeAndRead's
	last       uint64 // the highest position a command answered
}

// TestTopology: read-your-writes through the query process on the replica for writes sent
// through both command processes; one command process runs the process managers' scheduler
// and the projections are held by the projector processes; after SIGKILL of the leader and of
// a projector the survivors take over everything, and the read models equal a fresh fold of
// the events (dotmac audit verify's drift check).
func TestTopology(t *testing.T) {
	start := time.Now()
	tp := newTopology(t)

	tp.writeAndRead(0, tp.commands)
	leader, standby := tp.leader()
	tp.processLeases(tp.commands...)
	held := tp.checkProjectorSplit()
	tp.replicaBehind()
	t.Logf("topology up and serving in %s; scheduler leader %s", time.Since(start).Round(time.Millisecond), leader.name)

	victim := tp.projectors[0]
	if held[tp.projectors[1].pid()] > held[victim.pid()] {
		victim = tp.projectors[1]
	}
	killedAt := time.Now()
	leader.kill(syscall.SIGKILL)
	victim.kill(syscall.SIGKILL)
	t.Logf("killed %s (scheduler leader) and %s (held %d partitions)", leader.name, victim.name, held[victim.pid()])
	survivor := tp.projectors[0]
	if survivor == victim {
		survivor = tp.projectors[1]
	}

	tp.writeAndRead(1, []*proc{standby})
	require.Eventually(t, func() bool {
		v, _ := standby.metric(t, "dotmac_process_scheduler_leader")
		ts, _ := standby.metric(t, "dotmac_process_last_successful_tick_timestamp_seconds")
		return v == 1 && ts > float64(killedAt.Unix())
	}, takeover, 200*time.Millisecond, "%s takes the scheduler over and ticks", standby.name)
	require.Eventually(t, func() bool {
		for _, name := range tp.projectionNames() {
			if tp.owned(survivor, name) != partitions {
				return false
			}
		}
		return true
	}, takeover, 200*time.Millisecond, "%s applies every partition of every projection", survivor.name)
	tp.processLeases(standby)
	t.Logf("taken over in %s", time.Since(killedAt).Round(time.Millisecond))

	tp.caughtUp()
	tp.verifyReadModels()
	assert.Zero(t, tp.query.logged("LISTEN connection lost"), "the query process never LISTENs on the standby")
	t.Logf("topology test done in %s", time.Since(start).Round(time.Millisecond))
}

func newTopology(t *testing.T) *topology {
	t.Helper()
	ctx := context.Background()
	// Not t.TempDir: its parent is private to root, and the postgres user must pass through.
	dir, err := os.MkdirTemp("", "dotmac-topology-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // last: after the servers and processes stop
	tp := &topology{t: t, dir: dir, bin: dotmacBinary(t, dir)}
	tp.primary, tp.replica = startPrimaryAndReplica(ctx, t, dir)
	tp.env = []string{"DATABASE_URL=" + tp.primary.url("dotmac"), "DOTMAC_JWT_SECRET=" + jwtSecret, "LOG_FORMAT=json",
		"LOG_LEVEL=info", "DOTMAC_DATA_DIR=" + filepath.Join(dir, "var"), "DOTMAC_ADMIN_ADDR=127.0.0.1:0",
		"DOTMAC_COMMAND_ADDR=127.0.0.1:0", "DOTMAC_QUERY_ADDR=127.0.0.1:0", "DOTMAC_DB_MAX_CONNS=8",
		"DOTMAC_PROCESS_TICK_INTERVAL=1s", fmt.Sprintf("DOTMAC_PROJECTION_PARTITIONS=%d", partitions)}
	tp.migrate()
	serve := append(append([]string(nil), tp.env...), "DOTMAC_MIGRATE=false")
	for i := range 2 {
		tp.commands = append(tp.commands, startProc(t, tp.bin, dir, fmt.Sprintf("command-%d", i+1), serve,
			[]string{"command", "admin"}, "serve", "--role", "command"))
		tp.projectors = append(tp.projectors, startProc(t, tp.bin, dir, fmt.Sprintf("projector-%d", i+1), serve,
			[]string{"admin"}, "serve", "--role", "projector"))
	}
	// --ready-max-lag 2s: replicaBehind waits for /readyz to report the paused replica.
	tp.query = startProc(t, tp.bin, dir, "query", append(serve, "DOTMAC_READ_DATABASE_URL="+tp.replica.url("dotmac"), "DOTMAC_READY_MAX_LAG=2s"),
		[]string{"query", "admin"}, "serve", "--role", "query")
	for _, p := range tp.all() {
		require.Eventually(t, func() bool {
			_, status := get(t, p.url("admin")+"/readyz", "")
			return status == http.StatusOK
		}, 90*time.Second, 100*time.Millisecond, "%s ready:\n%s", p.name, p.tail(20))
	}
	key, err := auth.HS256([]byte(jwtSecret))
	require.NoError(t, err)
	tp.token, err = key.Mint(auth.Principal{Subject: "topology", Tenant: tenant, Permissions: []string{auth.All}}, time.Now(), time.Hour)
	require.NoError(t, err)
	tp.operator, err = key.Mint(auth.Principal{Subject: "topology", Operator: true, Permissions: []string{auth.ProjectionsRead}}, time.Now(), time.Hour)
	require.NoError(t, err)
	return tp
}

func (tp *topology) all() []*proc {
	return append(append(append([]*proc(nil), tp.commands...), tp.projectors...), tp.query)
}

// run runs a dotmac command to its end with the topology's variables.
func (tp *topology) run(args ...string) (string, error) {
	cmd := exec.CommandContext(context.Background(), tp.bin, args...) // #nosec G204 -- the binary under test
	cmd.Env = append(cleanEnv(), tp.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (tp *topology) migrate() {
	out, err := tp.run("migrate", "up")
	require.NoError(tp.t, err, "dotmac migrate up: %s", out)
}

// writeAndRead registers customers through each of via in turn (the first phase also defines
// the plan), each read back at once through the query process with min_position: the replica
// must wait for its copy of the checkpoint, never answer without the write.
func (tp *topology) writeAndRead(phase int, via []*proc) {
	t := tp.t
	if phase == 0 {
		tp.command(via[0], "/v1/plans", map[string]any{"code": "fiber_100", "name": "Fiber 100",
			"monthly_price": map[string]string{"amount": "79.99", "currency": "USD"}, "tax_class": "standard", "tax_rate": "0"})
	}
	var waited []time.Duration // read-your-writes through the replica: a measure, logged, not asserted
	defer func() {
		slices.Sort(waited)
		t.Logf("phase %d: %d reads with min_position through the replica: median %s, max %s", phase, len(waited),
			waited[len(waited)/2].Round(time.Microsecond), waited[len(waited)-1].Round(time.Microsecond))
	}()
	for i := range customersEach * len(via) {
		c := via[i%len(via)]
		name := fmt.Sprintf("Customer %d-%d", phase, i)
		ans := tp.command(c, "/v1/customers", map[string]any{"name": name, "email": fmt.Sprintf("c%d-%d@example.com", phase, i),
			"billing_address": "1 Fiber Way, Nairobi", "currency": "USD"})
		id, _ := ans["id"].(string)
		require.NotEmpty(t, id, "customer id from %s", c.name)
		svc := tp.command(c, "/v1/services", map[string]any{"customer_id": id, "plan_code": "fiber_100",
			"start_date": time.Now().UTC().Format(time.DateOnly), "install_address": "1 Fiber Way, Nairobi", "ont_serial": fmt.Sprintf("ZTEG-%d-%d", phase, i)})
		sid, _ := svc["id"].(string)
		ans = tp.command(c, "/v1/services/"+sid+"/activate", map[string]any{})
		pos := position(t, ans)
		// ?wait: after a kill the survivor takes the projections over within a lease's TTL.
		asked := time.Now()
		body := tp.readYourWrite(fmt.Sprintf("/v1/customers/%s?min_position=%d", id, pos))
		waited = append(waited, time.Since(asked))
		assert.Contains(t, body, name)
		body = tp.readYourWrite(fmt.Sprintf("/v1/services/%s?min_position=%d", sid, pos))
		assert.Contains(t, body, "active")
		if i%4 != 0 {
			continue
		}
		// A payment (customer credit here: nothing is invoiced) posts to the journal and the
		// invoices projection's payments: every read model gets events.
		pay := tp.command(c, "/v1/customers/"+id+"/payments", map[string]any{"amount": map[string]string{"amount": "25.00", "currency": "USD"},
			"method": "mobile_money", "external_reference": fmt.Sprintf("MPESA-%d-%d", phase, i)})
		body = tp.readYourWrite(fmt.Sprintf("/v1/customers/%s/balance?min_position=%d", id, position(t, pay)))
		assert.Contains(t, body, "-25.00", "the payment is the customer's credit")
	}
}

// readYourWrite reads path (with its min_position) from the query process and returns the
// body, which must be a 200: an answer without the write (a 404) fails the test. A 504 (not
// reached within ?wait) is asked again until takeover has passed: after the kills the
// projections wait for a lease to expire.
func (tp *topology) readYourWrite(path string) string {
	t := tp.t
	deadline := time.Now().Add(takeover)
	for {
		body, status := get(t, tp.query.url("query")+path+"&wait=20s", tp.token)
		if status == http.StatusGatewayTimeout && time.Now().Before(deadline) {
			continue
		}
		require.Equal(t, http.StatusOK, status, "read-your-writes through the replica, GET %s: %s", path, body)
		return body
	}
}

// command posts body to path on c and records the answer's position.
func (tp *topology) command(c *proc, path string, body any) map[string]any {
	tp.keys++
	ans := post(tp.t, c.url("command")+path, tp.token, fmt.Sprintf("topology-%d", tp.keys), body)
	if p := position(tp.t, ans); p > tp.last {
		tp.last = p
	}
	return ans
}

func position(t *testing.T, ans map[string]any) uint64 {
	t.Helper()
	p, ok := ans["position"].(float64)
	require.True(t, ok, "an answer with a position: %v", ans)
	return uint64(p)
}

// leader returns the command process running the scheduler and the other, once exactly one
// of them reports itself leader (dotmac_process_scheduler_leader).
func (tp *topology) leader() (leader, standby *proc) {
	t := tp.t
	require.Eventually(t, func() bool {
		var leaders []*proc
		for _, c := range tp.commands {
			if v, ok := c.metric(t, "dotmac_process_scheduler_leader"); ok && v == 1 {
				leaders = append(leaders, c)
			}
		}
		if len(leaders) != 1 {
			return false
		}
		leader = leaders[0]
		return true
	}, takeover, 100*time.Millisecond, "exactly one command process leads the scheduler")
	standby = tp.commands[0]
	if standby == leader {
		standby = tp.commands[1]
	}
	v, ok := standby.metric(t, "dotmac_process_scheduler_leader")
	require.True(t, ok)
	require.Zero(t, v, "%s stands by", standby.name)
	return leader, standby
}

// processLeases waits until the process managers' leased work (the billing and dunning
// consumer groups and the scheduler: feed_checkpoints rows, each run by one process at a
// time) is held, all three, by procs. (process.tracker is no lease: every command process
// keeps it.)
func (tp *topology) processLeases(procs ...*proc) {
	t := tp.t
	var rows string
	ok := assert.Eventually(t, func() bool {
		var err error
		rows, err = tp.primary.sql(context.Background(), `SELECT consumer || ' ' || coalesce(lease_holder, '-') FROM feed_checkpoints
WHERE consumer IN ('process.billing', 'process.dunning', 'process.scheduler') AND lease_expires_at > now() ORDER BY 1`, "dotmac")
		if err != nil || strings.Count(rows, "\n") != 2 {
			rows = fmt.Sprint(rows, err)
			return false
		}
		for _, row := range strings.Split(rows, "\n") {
			held := false
			for _, p := range procs {
				held = held || strings.Contains(row, fmt.Sprintf("-%d-", p.pid()))
			}
			if !held {
				return false
			}
		}
		return true
	}, takeover, 200*time.Millisecond, "every process manager's group is held by one of the command processes")
	if !ok {
		t.Fatalf("process managers' leases, last read: %s", rows)
	}
	t.Logf("process managers' leases:\n%s", rows)
}

type projectionStatus struct {
	Name      string `json:"name"`
	Holder    string `json:"holder"`
	Position  uint64 `json:"position"`
	Head      uint64 `json:"head"`
	LagEvents uint64 `json:"lag_events"`
}

// projections lists the projections' status (from the primary) through the query process's
// admin listener.
func (tp *topology) projections() []projectionStatus {
	body, status := get(tp.t, tp.query.url("admin")+"/v1/projections", tp.operator)
	require.Equal(tp.t, http.StatusOK, status, body)
	var out struct {
		Projections []projectionStatus `json:"projections"`
	}
	require.NoError(tp.t, json.Unmarshal([]byte(body), &out))
	return out.Projections
}

// partitions is the number of partitions each projection's live build is split into here
// (DOTMAC_PROJECTION_PARTITIONS, as deploy/ sets it).
const partitions = 4

// checkProjectorSplit checks that the two projector processes share every projection's
// partitions, half each (from each process's dotmac_projection_partitions_owned), and returns
// how many partitions each process (by pid) holds over all projections.
func (tp *topology) checkProjectorSplit() map[int]int {
	t := tp.t
	names := tp.projectionNames()
	held := map[int]int{}
	require.Eventually(t, func() bool {
		clear(held)
		for _, name := range names {
			a := tp.owned(tp.projectors[0], name)
			b := tp.owned(tp.projectors[1], name)
			if a+b != partitions || a != partitions/2 {
				return false
			}
			held[tp.projectors[0].pid()] += a
			held[tp.projectors[1].pid()] += b
		}
		return true
	}, takeover, 100*time.Millisecond, "each projector process applies half of every projection's %d partitions", partitions)
	t.Logf("partitions held over %d projections: %s %d, %s %d", len(names), tp.projectors[0].name, held[tp.projectors[0].pid()],
		tp.projectors[1].name, held[tp.projectors[1].pid()])
	return held
}

// owned is how many of projection name's partitions process p applies.
func (tp *topology) owned(p *proc, name string) int {
	v, _ := p.metric(tp.t, "dotmac_projection_partitions_owned", `projection="`+name+`"`)
	return int(v)
}

// projectionNames lists the projections (with a live build).
func (tp *topology) projectionNames() []string {
	var names []string
	require.Eventually(tp.t, func() bool {
		names = names[:0]
		for _, st := range tp.projections() {
			names = append(names, st.Name)
		}
		return len(names) > 0
	}, takeover, 100*time.Millisecond, "the projections are built")
	return names
}

// replicaBehind pauses the replica's WAL replay and writes a customer: the query process must
// not answer the write's min_position (it reads the replica, not the primary), must report the
// replica's lag in /readyz and its metrics, and must answer once replay resumes.
func (tp *topology) replicaBehind() {
	t := tp.t
	ctx := context.Background()
	_, err := tp.replica.sql(ctx, "SELECT pg_wal_replay_pause()")
	require.NoError(t, err)
	resumed := false
	defer func() {
		if !resumed {
			_, _ = tp.replica.sql(ctx, "SELECT pg_wal_replay_resume()")
		}
	}()
	ans := tp.command(tp.commands[1], "/v1/customers", map[string]any{"name": "Paused Replica", "email": "paused@example.com",
		"billing_address": "1 Fiber Way, Nairobi", "currency": "USD"})
	tp.extra++
	read := fmt.Sprintf("%s/v1/customers/%s?min_position=%d&wait=", tp.query.url("query"), ans["id"], position(t, ans))
	body, status := get(t, read+"500ms", tp.token)
	require.Equal(t, http.StatusGatewayTimeout, status, "the paused replica cannot have the write: %s", body)
	require.Eventually(t, func() bool {
		events, _ := tp.query.metric(t, "dotmac_replica_lag_events")
		body, status := get(t, tp.query.url("admin")+"/readyz", "")
		return events > 0 && status == http.StatusServiceUnavailable && strings.Contains(body, "replica_lag")
	}, takeover, 100*time.Millisecond, "the query process reports the replica's lag")

	_, err = tp.replica.sql(ctx, "SELECT pg_wal_replay_resume()")
	require.NoError(t, err)
	resumed = true
	body, status = get(t, read+"30s", tp.token)
	require.Equal(t, http.StatusOK, status, "read-your-writes once the replica replays again: %s", body)
	require.Eventually(t, func() bool {
		_, status := get(t, tp.query.url("admin")+"/readyz", "")
		return status == http.StatusOK
	}, takeover, 100*time.Millisecond, "the query process is ready again")
}

// caughtUp waits until every projection has applied every event on the primary and the
// replica holds the same checkpoints (the query process's lag metric and /readyz).
func (tp *topology) caughtUp() {
	t := tp.t
	require.Eventually(t, func() bool {
		for _, st := range tp.projections() {
			if st.Position < tp.last || st.LagEvents > 0 {
				return false
			}
		}
		v, ok := tp.query.metric(t, "dotmac_replica_lag_events")
		return ok && v == 0
	}, takeover, 100*time.Millisecond, "projections caught up on the primary and the replica")
	body, status := get(t, tp.query.url("admin")+"/readyz", "")
	require.Equal(t, http.StatusOK, status, "the query process is ready: %s", body)
}

// verifyReadModels checks that the read models equal a fresh fold of the events: dotmac audit
// verify (hash chains, journal balance, and its drift check, which folds every read model
// anew and compares), exiting 0 only without findings. It also reads the tenant's customers
// through the replica: every one written is there.
func (tp *topology) verifyReadModels() {
	t := tp.t
	out, err := tp.run("audit", "verify", "--json")
	require.NoError(t, err, "dotmac audit verify: %s", out)
	assert.Contains(t, out, `"ok": true`)
	body, status := get(t, fmt.Sprintf("%s/v1/customers?limit=100&min_position=%d", tp.query.url("query"), tp.last), tp.token)
	require.Equal(t, http.StatusOK, status, body)
	var list struct {
		Items []json.RawMessage `json:"items"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &list))
	assert.Len(t, list.Items, customersEach*2+customersEach+tp.extra, "every customer written is read back from the replica")
}

// cleanEnv is the test's environment without the variables dotmac reads (a developer's
// DATABASE_URL must not point the topology elsewhere).
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DOTMAC_") && !strings.HasPrefix(kv, "DATABASE_URL=") && !strings.HasPrefix(kv, "PG") &&
			!strings.HasPrefix(kv, "LOG_") && !strings.HasPrefix(kv, "KURRENTDB_URL=") {
			out = append(out, kv)
		}
	}
	return out
}
