package pgprovision

import (
	"context"
	"os/user"
)

// fromLocal returns the first local address and user that yield a usable database
// (created if missing), or false when none does. Failures are logged, not returned: a
// missing local server is the normal reason to go on to a private cluster.
func fromLocal(ctx context.Context, o *Options) (*Result, bool) {
	for _, addr := range o.LocalAddrs {
		if u, ok := probeAddr(ctx, o, addr); ok {
			return &Result{URL: u, Source: SourceLocal, Stop: noStop}, true
		}
	}
	return nil, false
}

// probeAddr tries each local user on addr and returns the URL of the first that works.
func probeAddr(ctx context.Context, o *Options, addr string) (string, bool) {
	var lastErr error
	for _, name := range localUsers() {
		u := loopbackURL(name, addr, o.Database)
		lastErr = probe(ctx, u, o)
		if lastErr == nil {
			return u, true
		}
		if isUnreachable(lastErr) {
			o.Logger.Debug().Err(lastErr).Str("addr", addr).Msg("no PostgreSQL server answers")
			return "", false // nobody there: other users will not help
		}
	}
	o.Logger.Warn().Err(lastErr).Str("addr", addr).
		Msg("a PostgreSQL server answers but refused every local user; not using it")
	return "", false
}

func probe(ctx context.Context, u string, o *Options) error {
	cfg, err := parseConfig(u)
	if err != nil {
		return err // cannot happen: loopbackURL builds a valid URL
	}
	cfg.ConnectTimeout = o.ProbeTimeout
	return ensureDatabase(ctx, cfg)
}

// localUsers are the roles tried on a local server: postgres, then the OS user.
func localUsers() []string {
	users := []string{"postgres"}
	if cur, err := user.Current(); err == nil && cur.Username != "postgres" {
		users = append(users, cur.Username)
	}
	return users
}
