package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// ExportVerification is the outcome of VerifyExport.
type ExportVerification struct {
	OK bool `json:"ok"`
	// Problems are findings: the export differs from what was signed, or from its manifest.
	Problems []string `json:"problems"`
	// NotProven names what the export could not prove (no public key, events no signed
	// checkpoint covers): not findings, but not evidence either.
	NotProven   []string `json:"not_proven"`
	Events      int      `json:"events"`
	Signed      int      `json:"signed_events"`
	Checkpoints int      `json:"checkpoints"`
}

// VerifyExport checks an export directory with the public keys alone (no database): the
// files against the manifest (CheckExport); each checkpoint's signature, and that its marks
// give its signed digest; that each event of events.jsonl hashes to its stored hash and that
// this hash is the one signed at its position; and that journal.csv, invoices.csv and
// payments.csv hold exactly the rows those events give for the period. The error is for an
// export that cannot be read at all.
func VerifyExport(dir string, keys PublicKeys) (*ExportVerification, error) {
	problems, err := CheckExport(dir)
	if err != nil {
		return nil, err
	}
	v := &ExportVerification{Problems: problems, NotProven: []string{}}
	defer func() { v.OK = len(v.Problems) == 0 }()
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	events, err := readJSONL[ExportedEvent](dir, EventsFileName)
	if errors.Is(err, fs.ErrNotExist) && m.SignedCheckpoints == 0 {
		if len(keys) > 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("public keys were given but the export carries no signed checkpoints (no %s, %s): nothing proves its rows; its proof files may have been removed", EventsFileName, CheckpointsFileName))
			return v, nil
		}
		v.NotProven = append(v.NotProven, "the export carries no signed checkpoints (none covered its events when it was made): nothing ties its rows to signed history")
		return v, nil
	}
	if err != nil {
		v.Problems = append(v.Problems, err.Error())
		return v, nil // a missing or unreadable proof file is a finding about the export
	}
	signed, spans, err := v.checkCheckpoints(dir, keys)
	if err != nil {
		v.Problems = append(v.Problems, err.Error())
		return v, nil // reported as a finding
	}
	set := newExportSet()
	period, err := domain.ParsePeriod(m.Period)
	if err != nil {
		return nil, fmt.Errorf("%s: period: %w", ManifestName, err)
	}
	v.Events = len(events)
	unsigned := 0
	for i := range events {
		if i > 0 && events[i].Position <= events[i-1].Position {
			v.Problems = append(v.Problems, fmt.Sprintf("%s line %d: position %d does not follow %d: positions must be strictly increasing (an event was duplicated or reordered)",
				EventsFileName, i+1, events[i].Position, events[i-1].Position))
			continue
		}
		ok, err := v.checkEvent(&events[i], signed, set, period)
		if err == nil && !ok && spans.covers(events[i].Position) {
			err = fmt.Errorf("the event at position %d lies inside a signed checkpoint's range but was not signed: it was fabricated", events[i].Position)
		}
		if err != nil {
			v.Problems = append(v.Problems, fmt.Sprintf("%s line %d: %v", EventsFileName, i+1, err))
		}
		if ok {
			v.Signed++
		} else if err == nil {
			unsigned++
		}
	}
	if unsigned > 0 {
		v.NotProven = append(v.NotProven, fmt.Sprintf("%d of %d event(s) are covered by no signed checkpoint in the export (sign, with dotmac audit sign, before exporting)", unsigned, len(events)))
	}
	v.compareRows(dir, set)
	return v, nil
}

func readManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName)) // #nosec G304 -- the auditor names the directory
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", ManifestName, err)
	}
	return &m, nil
}

// spans are the position ranges (prev_position, position] of checkpoints whose signature
// verified with the keys given.
type spans [][2]eventstore.Position

func (s spans) covers(pos eventstore.Position) bool {
	for _, r := range s {
		if pos > r[0] && pos <= r[1] {
			return true
		}
	}
	return false
}

// checkCheckpoints checks every checkpoint of the export and returns the signed hash of each
// position the trusted ones cover, and (with keys) the ranges of those whose signature verified.
func (v *ExportVerification) checkCheckpoints(dir string, keys PublicKeys) (map[eventstore.Position]string, spans, error) {
	cps, err := readJSONL[Checkpoint](dir, CheckpointsFileName)
	if err != nil {
		return nil, nil, err
	}
	var trusted spans
	if len(keys) == 0 {
		v.NotProven = append(v.NotProven, "checkpoint signatures (give the public key with --public-key): without them nothing proves the checkpoints are genuine")
	}
	v.Checkpoints = len(cps)
	signed := map[eventstore.Position]string{}
	for i := range cps {
		c := &cps[i]
		if len(keys) > 0 {
			if err := c.CheckSignature(keys); err != nil {
				v.Problems = append(v.Problems, CheckpointsFileName+": "+err.Error())
				continue
			}
			trusted = append(trusted, [2]eventstore.Position{c.PrevPosition, c.Position})
		}
		marks, err := hex.DecodeString(c.Marks)
		var d string
		if err == nil {
			d, err = SpanDigest(c.PrevDigest, marks)
		}
		if err != nil || d != c.Digest {
			v.Problems = append(v.Problems, fmt.Sprintf("%s: the marks of the checkpoint at position %d do not give its signed digest: they were altered", CheckpointsFileName, c.Position))
			continue
		}
		ms, _ := parseMarks(marks)
		for _, m := range ms {
			signed[m.pos] = hex.EncodeToString(m.hash)
		}
	}
	return signed, trusted, nil
}

// checkEvent checks one exported event and adds its rows to set; it reports whether the
// event is the one signed at its position.
func (v *ExportVerification) checkEvent(e *ExportedEvent, signed map[eventstore.Position]string, set *exportSet, period domain.Period) (bool, error) {
	env, err := e.envelope()
	if err != nil {
		return false, err
	}
	prev, err := hex.DecodeString(e.PrevHash)
	if err != nil {
		return false, fmt.Errorf("prev_hash: %w", err)
	}
	if h := eventstore.ChainHash(prev, env); !bytes.Equal(h, env.Hash) {
		return false, fmt.Errorf("the event at position %d does not hash to its stored hash: it was altered in the export", e.Position)
	}
	want, ok := signed[e.Position]
	if ok && want != e.Hash {
		return false, fmt.Errorf("the event at position %d is not the one signed: its hash is %s, the signed checkpoint says %s", e.Position, e.Hash, want)
	}
	ev, err := forJournal(env)
	if err == nil {
		err = set.add(env, ev, period)
	}
	if err != nil {
		return false, fmt.Errorf("the event at position %d: %w", e.Position, err)
	}
	return ok, nil
}

// compareRows checks the CSV files hold exactly the rows the exported events give.
func (v *ExportVerification) compareRows(dir string, set *exportSet) {
	for _, f := range []struct {
		name string
		rows [][]string
	}{{"journal.csv", set.journal}, {"invoices.csv", set.invoices}, {"payments.csv", set.payments}} {
		got, err := readCSV(filepath.Join(dir, f.name))
		if err != nil {
			v.Problems = append(v.Problems, f.name+": "+err.Error())
			continue
		}
		if p := firstRowDifference(f.name, f.rows, got); p != "" {
			v.Problems = append(v.Problems, p)
		}
	}
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path) // #nosec G304 -- inside the export directory
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) == 0 {
		return nil, fmt.Errorf("unreadable: %w", err)
	}
	return rows[1:], nil
}

func firstRowDifference(name string, want, got [][]string) string {
	sortRows(want)
	sortRows(got)
	for i := range min(len(want), len(got)) {
		if !slices.Equal(want[i], got[i]) {
			return fmt.Sprintf("%s: row %v is not what the signed events give (%v): the file was altered", name, got[i], want[i])
		}
	}
	if len(want) != len(got) {
		return fmt.Sprintf("%s: %d rows, the signed events give %d", name, len(got), len(want))
	}
	return ""
}

func sortRows(rows [][]string) {
	sort.SliceStable(rows, func(i, j int) bool { return slices.Compare(rows[i], rows[j]) < 0 })
}
