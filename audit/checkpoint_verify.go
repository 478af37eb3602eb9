package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"github.com/dotmac/ledger/eventstore"
)

// Checkpoint finding kinds.
const (
	// FindingCheckpointSignature: a checkpoint's signature does not verify with the public
	// keys given (forged, edited in the database, or signed by a key not given).
	FindingCheckpointSignature = "checkpoint_signature"
	// FindingCheckpointChain: a checkpoint does not follow the one before it (a checkpoint
	// was removed or inserted).
	FindingCheckpointChain = "checkpoint_chain"
	// FindingCheckpointMismatch: the events of a checkpoint's span are not those it signed,
	// and the checkpoint's stored marks cannot say which one differs.
	FindingCheckpointMismatch = "checkpoint_mismatch"
	// FindingForgedEvent: the first event of a checkpoint's span whose stored hash is not
	// the one signed (the event, or an earlier one of its stream, was rewritten).
	FindingForgedEvent = "forged_event"
	// FindingCheckpointBeyondHead: a checkpoint covers positions the feed no longer has.
	FindingCheckpointBeyondHead = "checkpoint_beyond_head"
)

// CheckpointSummary says what the signed checkpoints of a verification covered.
type CheckpointSummary struct {
	Checkpoints int `json:"checkpoints"`
	// SignedThrough is the position of the newest checkpoint (0: none).
	SignedThrough eventstore.Position `json:"signed_through"`
	LastSignedAt  *time.Time          `json:"last_signed_at,omitempty"`
	KeyIDs        []string            `json:"key_ids"`
	// SignaturesChecked is false when no public key was given: the digests were compared,
	// but nothing proves the checkpoints themselves were not rewritten.
	SignaturesChecked bool `json:"signatures_checked"`
	// UnsignedEvents counts the verified events after SignedThrough, which no signature covers.
	UnsignedEvents int64 `json:"unsigned_events"`
}

// cpChecker checks the feed against signed checkpoints, span by span: each span's digest is
// recomputed from its signed prev_digest, so a forgery is reported in the span it lies in,
// not in every later one.
type cpChecker struct {
	src      CheckpointSource
	keys     PublicKeys
	cps      []Checkpoint
	trusted  []bool // signature verified (or not checkable: no keys)
	findings []Finding
	i        int         // the checkpoint whose span the feed is in
	checked  int         // checkpoints whose spans the verified feed covered (set by finish)
	cur      *spanDigest // its digest so far (nil before its span starts)
	bad      []badSpan
	unsigned int64
}

// badSpan is a span whose recomputed digest differs from the signed one.
type badSpan struct {
	cp    int
	marks []byte // the marks the feed holds now
}

func newCPChecker(ctx context.Context, src CheckpointSource, keys PublicKeys, upto eventstore.Position) (*cpChecker, error) {
	cps, err := src.Checkpoints(ctx, upto)
	if err != nil {
		return nil, err
	}
	c := &cpChecker{src: src, keys: keys, cps: cps, trusted: make([]bool, len(cps))}
	for i := range cps {
		c.trusted[i] = true
		if len(keys) > 0 {
			if err := cps[i].CheckSignature(keys); err != nil {
				c.trusted[i] = false
				c.add(cps[i].Position, FindingCheckpointSignature, err.Error())
			}
		}
		c.checkLink(i)
	}
	return c, nil
}

func (c *cpChecker) add(pos eventstore.Position, kind, detail string) {
	c.findings = append(c.findings, Finding{Kind: kind, Position: pos, Detail: detail})
}

// checkLink checks that checkpoint i follows the one before it.
func (c *cpChecker) checkLink(i int) {
	cp := c.cps[i]
	prevPos, prevDigest := eventstore.Position(0), zeroDigest
	if i > 0 {
		prevPos, prevDigest = c.cps[i-1].Position, c.cps[i-1].Digest
	}
	if cp.PrevPosition != prevPos || cp.PrevDigest != prevDigest {
		c.add(cp.Position, FindingCheckpointChain, fmt.Sprintf("the checkpoint at position %d follows a checkpoint at position %d (digest %.16s…), "+
			"but the one before it is at position %d (digest %.16s…): checkpoints were removed or inserted", cp.Position, cp.PrevPosition, cp.PrevDigest, prevPos, prevDigest))
	}
}

// mark takes the next event of the feed.
func (c *cpChecker) mark(pos eventstore.Position, hash []byte) {
	for c.i < len(c.cps) && pos > c.cps[c.i].Position {
		c.closeSpan() // the feed skipped the checkpoint's own position
	}
	if c.i >= len(c.cps) {
		c.unsigned++
		return
	}
	cp := &c.cps[c.i]
	if pos <= cp.PrevPosition {
		return // between checkpoints that do not link up: reported by checkLink
	}
	if c.cur == nil {
		d, err := newSpanDigest(cp.PrevDigest)
		if err != nil {
			d, _ = newSpanDigest(zeroDigest) // a malformed prev_digest fails the signature; the digest cannot match
		}
		if cp.Events > 0 && cp.Events <= MaxCheckpointEvents {
			d.buf = slices.Grow(d.buf, cp.Events*markSize)
		}
		c.cur = d
	}
	c.cur.add(pos, hash)
	if pos == cp.Position {
		c.closeSpan()
	}
}

// closeSpan compares the span's digest with the signed one and moves to the next checkpoint.
func (c *cpChecker) closeSpan() {
	got := ""
	if c.cur != nil {
		got = c.cur.sum()
	}
	if got != c.cps[c.i].Digest && c.trusted[c.i] {
		var marks []byte
		if c.cur != nil {
			marks = c.cur.marks()
		}
		c.bad = append(c.bad, badSpan{cp: c.i, marks: marks}) // cur is not reused: its buffer is the span's
	}
	c.cur = nil
	c.i++
}

// finish reports the spans that differ, naming the first differing event when the
// checkpoint's stored marks are the signed ones, and the checkpoints beyond the verified feed:
// signed while it was verified (the head has reached them since), or covering events that were
// deleted. headNow reads the store's head now (nil when the verification stopped at a --to).
func (c *cpChecker) finish(ctx context.Context, headNow func(context.Context) (eventstore.Position, error)) error {
	if c.cur != nil { // the verified feed ends inside a span: not compared, and not yet proven
		c.unsigned += int64(c.cur.events())
		c.cur = nil
	}
	c.checked = c.i
	var head eventstore.Position
	for i := c.i; i < len(c.cps) && headNow != nil; i++ {
		if !c.trusted[i] {
			continue
		}
		if head == 0 {
			h, err := headNow(ctx)
			if err != nil {
				return fmt.Errorf("read head: %w", err)
			}
			head = max(h, 1)
		}
		if cp := c.cps[i]; cp.Position > head {
			c.add(cp.Position, FindingCheckpointBeyondHead, fmt.Sprintf("a checkpoint signed at %s covers the feed up to position %d, but the feed ends at %d: signed events were deleted",
				cp.SignedAt.Format(time.RFC3339), cp.Position, head))
		}
	}
	for _, b := range c.bad {
		if err := c.pinpoint(ctx, b); err != nil {
			return err
		}
	}
	return nil
}

// pinpoint reports a span that differs from its checkpoint.
func (c *cpChecker) pinpoint(ctx context.Context, b badSpan) error {
	cp := c.cps[b.cp]
	signedBy := fmt.Sprintf("the checkpoint at position %d (signed %s by key %s)", cp.Position, cp.SignedAt.Format(time.RFC3339), cp.KeyID)
	span := fmt.Sprintf("positions %d to %d", cp.PrevPosition+1, cp.Position)
	signed, err := c.src.Marks(ctx, cp.Position)
	if err != nil {
		return err
	}
	if !marksGiveDigest(&cp, signed) {
		c.add(cp.Position, FindingCheckpointMismatch, fmt.Sprintf("the events at %s are not those signed in %s, and the checkpoint's stored marks were altered too: "+
			"an event in that range was rewritten (or deleted, or inserted), which one cannot be proven", span, signedBy))
		return nil
	}
	want, _ := parseMarks(signed)
	got, err := parseMarks(b.marks)
	if err != nil {
		return err
	}
	f := firstDifference(want, got)
	f.Detail = fmt.Sprintf("%s, in %s: %s", f.Detail, signedBy, "the event (or an earlier event of its stream) was rewritten and the hashes recomputed")
	c.findings = append(c.findings, f)
	return nil
}

// marksGiveDigest reports whether marks give c's signed digest (and so are the signed ones).
func marksGiveDigest(c *Checkpoint, marks []byte) bool {
	d, err := SpanDigest(c.PrevDigest, marks)
	return err == nil && d == c.Digest
}

// firstDifference names the first mark where the feed (got) differs from the signed marks.
func firstDifference(want, got []mark) Finding {
	for i := range want {
		switch {
		case i >= len(got) || got[i].pos > want[i].pos:
			return Finding{Kind: FindingForgedEvent, Position: want[i].pos, Expected: hex.EncodeToString(want[i].hash),
				Detail: fmt.Sprintf("the event signed at position %d is missing from the feed", want[i].pos)}
		case got[i].pos < want[i].pos:
			return Finding{Kind: FindingForgedEvent, Position: got[i].pos, Stored: hex.EncodeToString(got[i].hash),
				Detail: fmt.Sprintf("the event at position %d was not signed: it was inserted", got[i].pos)}
		case !bytes.Equal(got[i].hash, want[i].hash):
			return Finding{Kind: FindingForgedEvent, Position: got[i].pos, Expected: hex.EncodeToString(want[i].hash), Stored: hex.EncodeToString(got[i].hash),
				Detail: fmt.Sprintf("the event at position %d is not the one signed: its stored hash differs from the signed hash", got[i].pos)}
		}
	}
	p := eventstore.Position(0)
	if len(got) > len(want) {
		p = got[len(want)].pos
	}
	return Finding{Kind: FindingForgedEvent, Position: p, Detail: fmt.Sprintf("the event at position %d was not signed: it was inserted", p)}
}

// report adds the checkpoint checks to r.
func (c *cpChecker) report(r *Report) {
	s := &CheckpointSummary{Checkpoints: c.checked, KeyIDs: c.keys.IDs(), SignaturesChecked: len(c.keys) > 0, UnsignedEvents: c.unsigned}
	if n := c.checked; n > 0 {
		s.SignedThrough = c.cps[n-1].Position
		at := c.cps[n-1].SignedAt
		s.LastSignedAt = &at
	}
	r.Checkpoints = s
	r.Findings = append(append([]Finding{}, c.findings...), r.Findings...)
	r.OK = len(r.Findings) == 0
	if c.checked == 0 {
		r.NotChecked = append(r.NotChecked, NotChecked{Check: "signed checkpoints (none are stored)",
			RunBy: "a server with a signing key (--signing-key-file), or dotmac audit sign"})
		return
	}
	r.Checks = append(r.Checks, fmt.Sprintf("signed checkpoints (%d, through position %d)", c.checked, s.SignedThrough))
	if s.SignaturesChecked {
		r.Checks = append(r.Checks, "checkpoint signatures (keys "+c.keys.String()+")")
	} else {
		r.NotChecked = append(r.NotChecked, NotChecked{Check: "checkpoint signatures: the checkpoints themselves could have been rewritten", RunBy: "--public-key"})
	}
	if c.unsigned > 0 {
		r.NotChecked = append(r.NotChecked, NotChecked{Check: fmt.Sprintf("the %d event(s) after position %d, which no signed checkpoint covers yet", c.unsigned, s.SignedThrough),
			RunBy: "dotmac audit sign (or the server's next signing), then verify again"})
	}
}
