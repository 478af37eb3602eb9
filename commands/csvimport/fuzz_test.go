package csvimport_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/dotmac/ledger/commands/csvimport"
)

// FuzzRead: whatever the bytes, Read returns rows or a *FileError, never panics; every row's
// values are trimmed UTF-8 of known columns, on increasing lines after the header.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		customersHeader + "\nC-1,Ada,ada@example.com,1 Way,USD\n",
		"\xEF\xBB\xBF" + customersHeader + "\r\nC-1,\"Ada\n Countess\",a@b.c,\"1 \"\"Way\"\"\",USD\r\n",
		customersHeader + "\nC-1,\"Ada,a@b.c\n",
		customersHeader + "\nC-1,A\xffda,a@b.c,1,USD,extra\n\n\nC-2\n",
		"EMAIL,Name,external_id,currency,billing_address,phone\n",
		"\x00\x01\x02",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := csvimport.Read("f.csv", bytes.NewReader(data), csvimport.CustomerColumns)
		if err != nil {
			var fe *csvimport.FileError
			if !errors.As(err, &fe) || !errors.Is(err, csvimport.ErrUnreadable) {
				t.Fatalf("error %v is not a *FileError", err)
			}
			return
		}
		last := 1
		for _, r := range rows {
			if r.Line <= last {
				t.Fatalf("row on line %d after line %d", r.Line, last)
			}
			last = r.Line
			for k, v := range r.Values {
				if !knownColumn(k) || !utf8.ValidString(v) || strings.TrimSpace(v) != v {
					t.Fatalf("row %d: column %q value %q", r.Line, k, v)
				}
			}
		}
	})
}

func knownColumn(name string) bool {
	c := csvimport.CustomerColumns
	for _, k := range append(append([]string{}, c.Required...), c.Optional...) {
		if k == name {
			return true
		}
	}
	return false
}
