// Package kurrentdb is the KurrentDB (EventStoreDB 22.10 or later) backend of the event store,
// over the gRPC client github.com/EventStore/EventStore-Client-Go/v4. It returns the same typed
// errors as the PostgreSQL backend and runs the same conformance suite (store_test.go, when
// KURRENTDB_URL is set), with one known exception: event ids are unique per stream, not across
// streams (see below). The KurrentDB database must be dedicated to one ledger: every
// non-system event in $all is expected to be one of this backend's.
//
// # Mapping
//
//   - Streams are KurrentDB streams of the same name; event ids are KurrentDB event ids; the
//     type name is the event type, the payload the event data (content type JSON), stored byte
//     for byte. Schema version, hash and metadata live in the event's user metadata (see
//     storedMetadata).
//   - Versions are 1-based, KurrentDB revisions 0-based: version = revision + 1.
//   - Positions: an event appended through gRPC is one implicitly committed prepare record, so
//     its commit and prepare positions are the same log offset, unique and growing in $all
//     order. eventstore.Position is that offset; reads and subscriptions resume from
//     (p, p). An event whose two positions differ (written in an explicit transaction by a
//     legacy TCP client) cannot be ordered by one number and is refused (see toPosition).
//   - $all is read without KurrentDB's own events: subscriptions filter out system streams on
//     the server; reads and Head (the client offers no filtered reads) skip them as they page,
//     and every path also skips system event types.
//
// # Appends, the hash chain and idempotency
//
// An append reads the stream's last event first (its version and hash), computes versions,
// recorded-at and the hash chain from it, and sends the events with that event's exact
// revision, whatever the caller asked for: another writer in between makes KurrentDB refuse
// the append, so a hash can never be chained to the wrong predecessor. The caller's condition
// is checked against the version read; Any and StreamExists appends that lose the race are
// re-read and retried (Config.MaxConflictRetries), exact ones fail with
// *eventstore.WrongExpectedVersionError.
//
// A retried append (same ids, same stream) is recognised before anything is sent, where a
// retry would find its events: right after the caller's exact expected version (as KurrentDB
// itself does), or at the end of the stream. Those are answered with the first append's
// result and Duplicate set. KurrentDB has no index of event ids across streams, so the same
// ids appended to another stream are not detected (docs/kurrentdb.md says what that leaves
// out of the port's contract).
package kurrentdb

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/eventstore"
)

// Config tunes a Store. Zero values take the defaults.
type Config struct {
	// MaxConflictRetries bounds how often an Any or StreamExists append that lost the race
	// for the stream's end is re-read and retried before its WrongExpectedVersionError is
	// returned (default 16).
	MaxConflictRetries int
	// SubscriptionBatch is the most events a Subscription.Next returns, and how many events
	// a subscription buffers ahead of its reader (default 1000).
	SubscriptionBatch int
	// MaxAppendBytes must match the server's --max-append-size (default 1 MiB, the server's
	// default). Larger appends are refused with ErrInvalidInput before anything is sent.
	MaxAppendBytes int
	// ResubscribeAttempts bounds consecutive failed attempts to re-establish a subscription
	// the server or network dropped; after that Next returns ErrUnavailable (default 10,
	// backing off from 100 ms to 5 s).
	ResubscribeAttempts int
	// Now stamps metadata.RecordedAt (default time.Now). It is the appending process's clock,
	// not the server's: it is hashed before the event is sent.
	Now    func() time.Time
	Logger zerolog.Logger
}

func (c *Config) setDefaults() {
	if c.MaxConflictRetries <= 0 {
		c.MaxConflictRetries = 16
	}
	if c.SubscriptionBatch <= 0 {
		c.SubscriptionBatch = 1000
	}
	if c.MaxAppendBytes <= 0 {
		c.MaxAppendBytes = 1 << 20
	}
	if c.ResubscribeAttempts <= 0 {
		c.ResubscribeAttempts = 10
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Store is the KurrentDB event store. Create it with Open; Close it when done.
type Store struct {
	cfg    Config
	conf   *esdb.Configuration
	mu     sync.Mutex
	client *esdb.Client
	closed chan struct{}
	once   sync.Once
}

var _ eventstore.Store = (*Store)(nil)

// minServer is the oldest server whose stream reads carry $all positions.
var minServer = esdb.ServerVersion{Major: 22, Minor: 10}

// Open connects to the KurrentDB node or cluster at url, an esdb://, esdb+discover://,
// kurrentdb:// or kurrentdb+discover:// connection string (for example
// esdb://127.0.0.1:2113?tls=false), and checks the server is EventStoreDB 22.10 or later.
// An unreachable server is *eventstore.UnavailableError.
func Open(ctx context.Context, url string, cfg Config) (*Store, error) {
	cfg.setDefaults()
	conf, err := parseURL(url)
	if err != nil {
		return nil, err
	}
	conf.Logger = clientLogger(cfg.Logger)
	client, err := esdb.NewClient(conf)
	if err != nil {
		return nil, fmt.Errorf("kurrentdb: %w", err)
	}
	s := &Store{cfg: cfg, conf: conf, client: client, closed: make(chan struct{})}
	if err := s.checkServer(ctx); err != nil {
		return nil, err // checkServer has closed s, or will once its call returns
	}
	return s, nil
}

// Close closes the connection. Calls made after it, and subscriptions still open, fail with
// ErrUnavailable. It is safe to call more than once.
func (s *Store) Close() {
	s.once.Do(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		close(s.closed)
		_ = s.client.Close()
	})
}

// clientFor returns the current client, or ErrUnavailable once the store is closed.
func (s *Store) clientFor(op string) (*esdb.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return nil, &eventstore.UnavailableError{Op: op, Err: errStoreClosed}
	default:
		return s.client, nil
	}
}

// fail classifies err from a call made with cl. A client that closed itself after a failed
// discovery is replaced, so the store recovers once the node is back; the call that saw it
// still fails with ErrUnavailable.
func (s *Store) fail(ctx context.Context, op string, cl *esdb.Client, err error) error {
	if isConnectionClosed(err) {
		s.replaceClient(cl)
	}
	return classify(ctx, op, err)
}

func (s *Store) replaceClient(old *esdb.Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
		return
	default:
	}
	if s.client != old {
		return // another call replaced it already
	}
	fresh, err := esdb.NewClient(s.conf) // the configuration was validated by Open: cannot fail
	if err != nil {
		return
	}
	_ = old.Close()
	s.client = fresh
	s.cfg.Logger.Warn().Msg("kurrentdb client closed itself after failing to reach the node; reconnecting with a new one")
}

// checkServer connects (the client is lazy) and checks the server's version. On error it
// closes s: at once, or, when ctx ends first, once the version call returns (closing the
// client while the call runs races inside the client library).
func (s *Store) checkServer(ctx context.Context) error {
	cl, err := s.clientFor("open")
	if err != nil {
		s.Close()
		return err
	}
	type result struct {
		v   *esdb.ServerVersion
		err error
	}
	done := make(chan result, 1)
	go func() { // GetServerVersion takes no context: it runs node discovery
		v, err := cl.GetServerVersion()
		done <- result{v, err}
	}()
	select {
	case <-ctx.Done():
		go func() {
			<-done
			s.Close()
		}()
		return fmt.Errorf("open: %w", ctx.Err())
	case r := <-done:
		var err error
		if r.err != nil {
			err = s.fail(ctx, "open", cl, r.err)
		} else {
			err = checkVersion(*r.v)
		}
		if err != nil {
			s.Close()
		}
		return err
	}
}

func checkVersion(v esdb.ServerVersion) error {
	if v.Major > minServer.Major || v.Major == minServer.Major && v.Minor >= minServer.Minor {
		return nil
	}
	return fmt.Errorf("kurrentdb: server version %d.%d.%d is too old: this backend needs EventStoreDB %d.%d or later (KurrentDB 25 or later recommended), whose stream reads carry $all positions",
		v.Major, v.Minor, v.Patch, minServer.Major, minServer.Minor)
}

// parseURL accepts the connection strings of this client (esdb://, esdb+discover://) and of
// the newer KurrentDB clients (kurrentdb://, kurrent://, with +discover), which mean the same.
func parseURL(raw string) (*esdb.Configuration, error) {
	s := raw
	for _, scheme := range []string{"kurrentdb", "kurrent"} {
		if rest, ok := strings.CutPrefix(s, scheme+"://"); ok {
			s = "esdb://" + rest
		} else if rest, ok := strings.CutPrefix(s, scheme+"+discover://"); ok {
			s = "esdb+discover://" + rest
		}
	}
	conf, err := esdb.ParseConnectionString(s)
	if err != nil {
		return nil, fmt.Errorf("kurrentdb: invalid connection string: %s", scrub(err.Error(), raw, s))
	}
	return conf, nil
}

// scrub keeps connection strings, which may carry a password, out of an error message.
func scrub(msg, raw, rewritten string) string {
	msg = strings.ReplaceAll(msg, raw, "<connection string>")
	msg = strings.ReplaceAll(msg, rewritten, "<connection string>")
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// clientLogger hands the client's log lines to zerolog at debug level: every error the client
// logs is also returned to the store, which returns it to its caller.
func clientLogger(l zerolog.Logger) esdb.LoggingFunc {
	return func(level esdb.LogLevel, format string, args ...any) {
		l.Debug().Str("component", "esdb").Str("client_level", level).Msgf(format, args...)
	}
}
