package audit

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/eventstore"
)

// An export carries its own proof: events.jsonl holds every event an exported row comes from,
// exactly as stored (with the hash of the event before it in its stream), and
// checkpoints.jsonl every signed checkpoint whose span holds one of them, with its marks. With
// the public key alone, VerifyExport checks each signature, that each checkpoint's marks give
// its signed digest, that each event's hash recomputes and is the one signed at its position,
// and that the exported rows are exactly those the signed events give.

// Names of the signed parts of an export.
const (
	EventsFileName      = "events.jsonl"
	CheckpointsFileName = "checkpoints.jsonl"
)

// ExportedEvent is one event of events.jsonl. Data and metadata are the stored JSON text,
// byte for byte (the hash covers those bytes).
type ExportedEvent struct {
	Position      eventstore.Position `json:"position"`
	StreamID      string              `json:"stream_id"`
	Version       uint64              `json:"version"`
	EventID       string              `json:"event_id"`
	Type          string              `json:"type"`
	SchemaVersion int                 `json:"schema_version"`
	Data          string              `json:"data"`
	Metadata      string              `json:"metadata"`
	Hash          string              `json:"hash"`
	// PrevHash is the stored hash of the stream's previous event ("" for version 1).
	PrevHash string `json:"prev_hash"`
}

// WithCheckpoints returns an Auditor whose exports carry the signed checkpoints of src.
func (a *Auditor) WithCheckpoints(src CheckpointSource) *Auditor {
	b := *a
	b.checkpoints = src
	return &b
}

// provenance collects, during an export's scan, the events rows come from.
type provenance struct {
	prev   map[string][]byte // stream -> hash of its last event seen
	events []ExportedEvent
}

func newProvenance() *provenance { return &provenance{prev: map[string][]byte{}} }

// see records env's hash as its stream's latest, and env itself when used.
func (p *provenance) see(env *eventstore.Envelope, used bool) {
	if used {
		p.events = append(p.events, exportedEvent(env, p.prev[env.StreamID]))
	}
	p.prev[env.StreamID] = env.Hash
}

func exportedEvent(env *eventstore.Envelope, prev []byte) ExportedEvent {
	return ExportedEvent{Position: env.Position, StreamID: env.StreamID, Version: env.Version, EventID: env.ID.String(), Type: env.Type,
		SchemaVersion: env.SchemaVersion, Data: string(env.Data), Metadata: string(env.RawMetadata),
		Hash: hex.EncodeToString(env.Hash), PrevHash: hex.EncodeToString(prev)}
}

// envelope rebuilds the stored event.
func (e *ExportedEvent) envelope() (*eventstore.Envelope, error) {
	id, err := uuid.Parse(e.EventID)
	if err != nil {
		return nil, fmt.Errorf("event_id: %w", err)
	}
	meta, err := eventstore.DecodeMetadata([]byte(e.Metadata))
	if err != nil {
		return nil, err
	}
	hash, err := hex.DecodeString(e.Hash)
	if err != nil {
		return nil, fmt.Errorf("hash: %w", err)
	}
	return &eventstore.Envelope{ID: id, StreamID: e.StreamID, Version: e.Version, Position: e.Position, Type: e.Type,
		SchemaVersion: e.SchemaVersion, Data: json.RawMessage(e.Data), RawMetadata: json.RawMessage(e.Metadata), Metadata: meta, Hash: hash}, nil
}

// writeProof writes events.jsonl and checkpoints.jsonl (the checkpoints whose spans hold an
// exported event) and returns their manifest entries and how many checkpoints were written.
func (a *Auditor) writeProof(ctx context.Context, dir string, p *provenance) ([]ManifestFile, int, error) {
	if a.checkpoints == nil || len(p.events) == 0 {
		return nil, 0, nil
	}
	cps, err := a.checkpoints.Checkpoints(ctx, 0)
	if err != nil {
		return nil, 0, err
	}
	var used []Checkpoint
	for _, i := range spansOf(cps, p.events) {
		c := cps[i]
		marks, err := a.checkpoints.Marks(ctx, c.Position)
		if err != nil {
			return nil, 0, err
		}
		c.Marks = hex.EncodeToString(marks)
		used = append(used, c)
	}
	var files []ManifestFile
	for _, f := range []struct {
		name string
		rows int
		each func(*json.Encoder) error
	}{
		{EventsFileName, len(p.events), func(enc *json.Encoder) error { return encodeAll(enc, p.events) }},
		{CheckpointsFileName, len(used), func(enc *json.Encoder) error { return encodeAll(enc, used) }},
	} {
		mf, err := writeFile(filepath.Join(dir, f.name), func(w io.Writer) error { return f.each(json.NewEncoder(w)) })
		if err != nil {
			return nil, 0, err
		}
		mf.Rows = f.rows
		files = append(files, mf)
	}
	return files, len(used), nil
}

func encodeAll[T any](enc *json.Encoder, rows []T) error {
	for i := range rows {
		if err := enc.Encode(&rows[i]); err != nil {
			return err
		}
	}
	return nil
}

// spansOf returns the indexes of the checkpoints (sorted by position) whose span holds one of
// events (in feed order), each once.
func spansOf(cps []Checkpoint, events []ExportedEvent) []int {
	var out []int
	for _, e := range events {
		i := spanIndex(cps, e.Position)
		if i >= 0 && (len(out) == 0 || out[len(out)-1] != i) {
			out = append(out, i)
		}
	}
	return out
}

// spanIndex is the index of the checkpoint whose span holds pos, or -1.
func spanIndex(cps []Checkpoint, pos eventstore.Position) int {
	i := sort.Search(len(cps), func(i int) bool { return cps[i].Position >= pos })
	if i < len(cps) && cps[i].PrevPosition < pos {
		return i
	}
	return -1
}

// readJSONL decodes every line of dir/name into a T.
func readJSONL[T any](dir, name string) ([]T, error) {
	f, err := os.Open(filepath.Join(dir, name)) // #nosec G304 -- inside the export directory
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for line := 1; sc.Scan(); line++ {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", name, line, err)
		}
		out = append(out, v)
	}
	return out, sc.Err()
}
