package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/eventstore"
)

// DefaultSignInterval is how often a server signs a checkpoint when the head has moved.
const DefaultSignInterval = time.Minute

// ErrCheckpointsRemoved: the newest checkpoint in the table is older than one this signer
// already saw: checkpoints were deleted, and history after them may have been rewritten. The
// signer refuses to sign over it.
var ErrCheckpointsRemoved = errors.New("signed checkpoints were removed from audit_checkpoints")

// ErrCheckpointAheadOfHead: the newest checkpoint claims a position past the head of the feed:
// it was forged (the runtime role can insert rows), and chaining on would never sign again.
var ErrCheckpointAheadOfHead = errors.New("the newest checkpoint is past the head of the feed")

// SignerConfig configures a Signer.
type SignerConfig struct {
	Store       eventstore.Store
	Checkpoints *CheckpointStore
	Key         *SigningKey
	// Interval is how often Run signs when the head has moved (default DefaultSignInterval).
	Interval time.Duration
	// Registerer receives the signer's metrics (nil: none).
	Registerer prometheus.Registerer
	Logger     zerolog.Logger
	// Now is the clock checkpoints are dated with (default time.Now).
	Now func() time.Time
	// TrustedKeys are public keys besides Key's own whose checkpoints the signer chains onto
	// (a key rotated out); the newest checkpoint must verify with one of them or with Key.
	TrustedKeys PublicKeys
}

// Signer signs checkpoints of the feed. Several processes may run one over the same
// database: the table takes one checkpoint after each position (the others' inserts fail with
// ErrCheckpointTaken and they carry on from the winner's), so no lease is needed. A Signer is
// safe for concurrent use; its signings take turns.
type Signer struct {
	cfg     SignerConfig
	mu      sync.Mutex
	seen    eventstore.Position // the newest checkpoint this signer has seen
	metrics *signerMetrics
}

type signerMetrics struct {
	lastTime, lastPos prometheus.Gauge
	errors            prometheus.Counter
}

// NewSigner returns a signer; it registers its metrics with cfg.Registerer.
func NewSigner(cfg SignerConfig) (*Signer, error) {
	if cfg.Store == nil || cfg.Checkpoints == nil || cfg.Key == nil {
		return nil, errors.New("signer: Store, Checkpoints and Key are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultSignInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &signerMetrics{
		lastTime: prometheus.NewGauge(prometheus.GaugeOpts{Name: "dotmac_checkpoint_last_signed_timestamp_seconds",
			Help: "When the newest signed checkpoint of the feed was signed (Unix seconds), by any process."}),
		lastPos: prometheus.NewGauge(prometheus.GaugeOpts{Name: "dotmac_checkpoint_last_signed_position",
			Help: "The global position the newest signed checkpoint covers."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "dotmac_checkpoint_sign_errors_total",
			Help: "Signing attempts that failed (database, or checkpoints removed or forged)."}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{m.lastTime, m.lastPos, m.errors} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("signer metrics: %w", err)
			}
		}
	}
	return &Signer{cfg: cfg, metrics: m}, nil
}

// KeyID is the id of the key the signer signs with.
func (s *Signer) KeyID() string { return s.cfg.Key.ID() }

// Sign signs checkpoints up to the head (several when more than MaxCheckpointEvents events
// are unsigned) and returns those it signed, without their marks (stored with them, and read
// from there by verify): none when the head has not moved since the newest
// checkpoint, or when another process signed first. It refuses (ErrCheckpointsRemoved,
// ErrBadSignature) to chain onto a table whose newest checkpoint is older than one it saw or
// does not verify with its key.
func (s *Signer) Sign(ctx context.Context) ([]Checkpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	signed, err := s.sign(ctx)
	if err != nil {
		s.metrics.errors.Inc()
	}
	return signed, err
}

func (s *Signer) sign(ctx context.Context) ([]Checkpoint, error) {
	last, err := s.last(ctx)
	if err != nil {
		return nil, err
	}
	head, err := s.cfg.Store.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("sign: read head: %w", err)
	}
	if last.Position > head {
		return nil, fmt.Errorf("sign: %w: it covers position %d, the head is %d", ErrCheckpointAheadOfHead, last.Position, head)
	}
	var signed []Checkpoint
	for last.Position < head {
		c, err := s.next(ctx, last, head)
		if errors.Is(err, ErrCheckpointTaken) {
			return signed, nil // another process signs meanwhile: the next round goes on from its checkpoints
		}
		if err != nil {
			return signed, err
		}
		s.seen, last = c.Position, *c
		// The marks (800 KB of hex for a full span) are stored with the checkpoint, where
		// verify reads them: kept here, the first run over a long unsigned history held
		// every span's (72 MB for a million events) until the last was signed.
		c.Marks = ""
		signed = append(signed, *c)
		s.observe(c)
	}
	return signed, nil
}

// last returns the newest checkpoint (a zero one, chaining from position 0, when none),
// refusing one that does not follow what this signer saw.
func (s *Signer) last(ctx context.Context) (Checkpoint, error) {
	last, ok, err := s.cfg.Checkpoints.Last(ctx)
	if err != nil {
		return Checkpoint{}, err
	}
	if !ok {
		last = Checkpoint{Digest: zeroDigest}
	}
	if last.Position < s.seen {
		return Checkpoint{}, fmt.Errorf("%w: the newest is at position %d, this signer saw one at %d", ErrCheckpointsRemoved, last.Position, s.seen)
	}
	if !ok {
		return last, nil
	}
	// Whatever key id it names: the runtime role can insert a row, and one naming a key the
	// signer does not know (or dated in the future, far ahead of the head) must not be chained
	// onto nor shown as the newest signing.
	if err := last.CheckSignature(s.trusted()); err != nil {
		return Checkpoint{}, fmt.Errorf("sign: refusing to chain onto the newest checkpoint: %w", err)
	}
	s.seen = last.Position
	s.observe(&last)
	return last, nil
}

// trusted is the keys the newest checkpoint may be signed by: Key's and TrustedKeys.
func (s *Signer) trusted() PublicKeys {
	keys := s.cfg.Key.PublicKeys()
	for id, pub := range s.cfg.TrustedKeys {
		keys[id] = pub
	}
	return keys
}

// next signs and stores the checkpoint after last, up to head and at most MaxCheckpointEvents.
func (s *Signer) next(ctx context.Context, last Checkpoint, head eventstore.Position) (*Checkpoint, error) {
	d, err := newSpanDigest(last.Digest)
	if err != nil {
		return nil, err
	}
	err = readMarks(ctx, s.cfg.Store, last.Position, head, MaxCheckpointEvents, d.add)
	if err != nil {
		return nil, fmt.Errorf("sign: read the feed after %d: %w", last.Position, err)
	}
	if d.events() == 0 {
		return nil, fmt.Errorf("sign: no events after position %d though the head is %d", last.Position, head)
	}
	marks := d.marks()
	c := &Checkpoint{Position: eventstore.Position(beUint64(marks[len(marks)-markSize:])), PrevPosition: last.Position,
		PrevDigest: last.Digest, Digest: d.sum(), Events: d.events(), SignedAt: s.cfg.Now().UTC().Truncate(time.Microsecond),
		KeyID: s.cfg.Key.ID(), Marks: hexString(marks)}
	c.Signature = s.cfg.Key.sign(c.Message())
	if err := s.cfg.Checkpoints.Insert(ctx, c); err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Signer) observe(c *Checkpoint) {
	s.metrics.lastTime.Set(float64(c.SignedAt.UnixNano()) / 1e9)
	s.metrics.lastPos.Set(float64(c.Position))
}

// Run signs every Interval while ctx lives, when the head has moved, the first time one
// Interval after it starts (signing at once made a starting server open database connections
// while its listeners were being bound, and tests lost their ports to them); failures are
// logged and counted (dotmac_checkpoint_sign_errors_total), and tried again at the next tick.
func (s *Signer) Run(ctx context.Context) {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.tick(ctx)
	}
}

func (s *Signer) tick(ctx context.Context) {
	signed, err := s.Sign(ctx)
	if err != nil && ctx.Err() == nil {
		s.cfg.Logger.Error().Err(err).Msg("signing a checkpoint failed")
		return
	}
	if n := len(signed); n > 0 {
		s.cfg.Logger.Debug().Uint64("position", uint64(signed[n-1].Position)).Int("checkpoints", n).Msg("checkpoints signed")
	}
}

// readMarks calls add with the position and stored hash of each event after `after`, up to
// upto, at most limit, in feed order.
func readMarks(ctx context.Context, store eventstore.Store, after, upto eventstore.Position, limit int, add func(eventstore.Position, []byte)) error {
	for n := 0; n < limit && after < upto; {
		page := min(limit-n, eventstore.MaxReadLimit)
		var got []mark
		if so, ok := store.(eventstore.StreamOrderReader); ok {
			ms, err := so.ReadFeedMarks(ctx, after, page)
			if err != nil {
				return err
			}
			for _, m := range ms {
				got = append(got, mark{pos: m.Position, hash: m.Hash})
			}
		} else {
			envs, err := store.ReadAll(ctx, after, page)
			if err != nil {
				return err
			}
			for i := range envs {
				got = append(got, mark{pos: envs[i].Position, hash: envs[i].Hash})
			}
		}
		if len(got) == 0 {
			return nil
		}
		for _, m := range got {
			if m.pos > upto {
				return nil
			}
			add(m.pos, m.hash)
			after = m.pos
			n++
		}
	}
	return nil
}
