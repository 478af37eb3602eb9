package bench

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime and stime in /proc/PID/stat (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// CPU is the CPU time one command cost every process it involves, measured over a load
// phase: the server under test, PostgreSQL's backends serving the scratch database, and this
// process (the load generator: vegeta, and the lag probe). PostgreSQL's shared background
// processes (WAL writer, checkpointer) are left out, as are backends that exited during the
// phase, so the total is a lower bound and CeilingPerS (the commands per second the host's
// cores allow if they did nothing else) an upper bound.
type CPU struct {
	ServerUS        float64 `json:"server_us"`
	PostgresUS      float64 `json:"postgres_us"`
	LoadGeneratorUS float64 `json:"load_generator_us"`
	TotalUS         float64 `json:"total_us"`
	Cores           int     `json:"cores"`
	CeilingPerS     float64 `json:"ceiling_per_s"`
}

// cpuMeter samples the CPU time of the processes of a load phase.
type cpuMeter struct {
	r            *run
	server, load time.Duration
	postgres     map[int]time.Duration
	// servers are the server under test's processes (three with Config.RolesApart).
	servers []int
}

// startCPU samples the CPU time spent so far by the server, this process and the scratch
// database's backends. Off Linux every figure stays zero.
func (r *run) startCPU(ctx context.Context, srv *server) *cpuMeter {
	m := &cpuMeter{r: r, servers: srv.pids()}
	m.server, _ = procsCPU(m.servers)
	m.load, _ = procCPU(os.Getpid())
	m.postgres = r.backendCPU(ctx)
	return m
}

// stop returns the CPU per command of the phase begun at startCPU, which answered commands.
func (m *cpuMeter) stop(ctx context.Context, commands float64) *CPU {
	server, ok := procsCPU(m.servers)
	if !ok || commands <= 0 {
		return nil
	}
	load, _ := procCPU(os.Getpid())
	var pg time.Duration
	for pid, t := range m.r.backendCPU(ctx) {
		pg += t - m.postgres[pid] // a backend started during the phase counts from zero
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / commands }
	c := &CPU{ServerUS: per(server - m.server), PostgresUS: per(pg), LoadGeneratorUS: per(load - m.load), Cores: runtime.NumCPU()}
	c.TotalUS = c.ServerUS + c.PostgresUS + c.LoadGeneratorUS
	if c.TotalUS > 0 {
		c.CeilingPerS = float64(c.Cores) * 1e6 / c.TotalUS
	}
	return c
}

// backendCPU returns the CPU time of each PostgreSQL backend connected to the scratch
// database, by pid (empty when PostgreSQL runs elsewhere: its /proc is not ours).
func (r *run) backendCPU(ctx context.Context) map[int]time.Duration {
	out := map[int]time.Duration{}
	rows, err := r.pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()`)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			continue
		}
		if t, ok := procCPU(pid); ok {
			out[pid] = t
		}
	}
	return out
}

// procsCPU returns the CPU time the processes pids have spent together (false when one of
// them cannot be read).
func procsCPU(pids []int) (time.Duration, bool) {
	var sum time.Duration
	for _, pid := range pids {
		t, ok := procCPU(pid)
		if !ok {
			return 0, false
		}
		sum += t
	}
	return sum, len(pids) > 0
}

// procCPU returns the user and system CPU time process pid has spent, from /proc/PID/stat.
func procCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat") // #nosec G304 -- a pid we chose
	if err != nil {
		return 0, false
	}
	return parseStatCPU(b)
}

// parseStatCPU reads utime and stime out of a /proc/PID/stat line.
func parseStatCPU(b []byte) (time.Duration, bool) {
	// The command name (field 2) may hold spaces and parentheses: the fields counted start
	// after its last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state (3), ..., utime (14), stime (15); f[0] is field 3.
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * clockTick, true
}
