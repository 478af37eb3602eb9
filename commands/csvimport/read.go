package csvimport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Limits of one file.
const (
	// MaxFileBytes is the largest file read.
	MaxFileBytes = 256 << 20
	// MaxRows is the most data rows one file may hold.
	MaxRows = 1_000_000
	// maxColumns bounds the header.
	maxColumns = 64
)

// utf8BOM is the byte order mark some spreadsheets write at the start of a UTF-8 file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// ErrUnreadable is wrapped by every *FileError.
var ErrUnreadable = errors.New("unreadable file")

// FileError says why a whole file cannot be imported; nothing is recorded when a file is
// unreadable. Line is 0 when the problem is not on one line.
type FileError struct {
	File   string
	Line   int
	Reason string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s line %d: %s", e.File, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Reason)
}

func (e *FileError) Unwrap() error { return ErrUnreadable }

// Columns describes the columns of a file: which are required and which optional.
type Columns struct {
	Required []string
	Optional []string
}

func (c Columns) known(name string) bool {
	for _, k := range append(c.Required[:len(c.Required):len(c.Required)], c.Optional...) {
		if k == name {
			return true
		}
	}
	return false
}

// Row is one data row: its line (of its first field, 1-based, the header being line 1 or
// more) and its values by column name, trimmed. Bad holds the columns whose value is not
// UTF-8 (and Width the row's field count when it differs from the header's).
type Row struct {
	Line   int
	Values map[string]string
	Bad    []string
	Width  int
}

// Get returns the value of column name ("" when absent).
func (r Row) Get(name string) string { return r.Values[name] }

// Read reads a CSV file with columns cols. It returns every data row, or a *FileError when
// the file cannot be read as a whole (binary, too large, a broken quote, a header that is not
// UTF-8, a missing, unknown or repeated column).
func Read(file string, r io.Reader, cols Columns) ([]Row, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, &FileError{File: file, Reason: err.Error()}
	}
	switch {
	case len(data) > MaxFileBytes:
		return nil, &FileError{File: file, Reason: fmt.Sprintf("larger than %d bytes", MaxFileBytes)}
	case bytes.IndexByte(data, 0) >= 0:
		return nil, &FileError{File: file, Reason: "binary data (a NUL byte): not a CSV file"}
	}
	cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, utf8BOM)))
	cr.FieldsPerRecord = -1
	header, err := readHeader(file, cr, cols)
	if err != nil {
		return nil, err
	}
	return readRows(file, cr, header)
}

// readHeader reads and checks the header row; it returns the column name of each field.
func readHeader(file string, cr *csv.Reader, cols Columns) ([]string, error) {
	rec, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{File: file, Reason: "empty: want a header row"}
	}
	if err != nil {
		return nil, parseError(file, err)
	}
	if len(rec) > maxColumns {
		return nil, &FileError{File: file, Line: 1, Reason: fmt.Sprintf("more than %d columns", maxColumns)}
	}
	seen := map[string]bool{}
	names := make([]string, len(rec))
	for i, f := range rec {
		line, _ := cr.FieldPos(i)
		name := strings.ToLower(strings.TrimSpace(f))
		switch {
		case !utf8.ValidString(f):
			return nil, &FileError{File: file, Line: line, Reason: "the header is not UTF-8"}
		case !cols.known(name):
			return nil, &FileError{File: file, Line: line, Reason: fmt.Sprintf("unknown column %q (want %s)", name, cols.list())}
		case seen[name]:
			return nil, &FileError{File: file, Line: line, Reason: fmt.Sprintf("column %q twice", name)}
		}
		seen[name], names[i] = true, name
	}
	for _, c := range cols.Required {
		if !seen[c] {
			return nil, &FileError{File: file, Line: 1, Reason: fmt.Sprintf("missing column %q", c)}
		}
	}
	return names, nil
}

func (c Columns) list() string {
	return strings.Join(c.Required, ", ") + ", optional " + strings.Join(c.Optional, ", ")
}

// readRows reads the data rows after the header.
func readRows(file string, cr *csv.Reader, header []string) ([]Row, error) {
	var rows []Row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			return nil, parseError(file, err)
		}
		if len(rows) == MaxRows {
			return nil, &FileError{File: file, Reason: fmt.Sprintf("more than %d rows", MaxRows)}
		}
		line, _ := cr.FieldPos(0)
		rows = append(rows, newRow(line, header, rec))
	}
}

func newRow(line int, header, rec []string) Row {
	row := Row{Line: line, Values: make(map[string]string, len(header))}
	if len(rec) != len(header) {
		row.Width = len(rec)
	}
	for i, name := range header {
		if i >= len(rec) {
			break
		}
		if !utf8.ValidString(rec[i]) {
			row.Bad = append(row.Bad, name)
			continue
		}
		row.Values[name] = strings.TrimSpace(rec[i])
	}
	return row
}

func parseError(file string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &FileError{File: file, Line: pe.Line, Reason: pe.Err.Error()}
	}
	return &FileError{File: file, Reason: err.Error()}
}
