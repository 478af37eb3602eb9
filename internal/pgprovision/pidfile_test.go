package pgprovision

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestParsePIDFile(t *testing.T) {
	t.Parallel()
	const ready = "4242\n/srv/pg/data\n1732579200\n54321\n\n127.0.0.1\n  5432001     32768\nready   \n"
	pf, err := parsePIDFile(ready)
	if err != nil || pf != (pidFile{pid: 4242, port: 54321, status: statusReady}) {
		t.Fatalf("parsePIDFile = %+v, %v", pf, err)
	}
	pf, err = parsePIDFile("4242\n/srv/pg/data\n1732579200\n54321\n")
	if err != nil || pf.status != "" {
		t.Fatalf("starting server: %+v, %v; want no status yet", pf, err)
	}
	for _, partial := range []string{"", "4242\n/srv/pg/data\n", "4242\n/srv\n1\nport\n"} {
		if _, err := parsePIDFile(partial); !errors.Is(err, errPIDFileIncomplete) {
			t.Errorf("parsePIDFile(%q) = %v, want errPIDFileIncomplete", partial, err)
		}
	}
}

func TestTailLines(t *testing.T) {
	t.Parallel()
	got := tailLines("a\n\n b \nc\r\nd\n", 3)
	if want := "b | c | d"; got != want {
		t.Fatalf("tailLines = %q, want %q", got, want)
	}
}

// Whatever a postmaster.pid holds (half-written, corrupted), parsing never panics, and a
// successful parse returns the number on its first line.
func FuzzParsePIDFile(f *testing.F) {
	f.Add("4242\n/srv/pg/data\n1732579200\n54321\n\n127.0.0.1\n  5432001     32768\nready   \n")
	f.Add("4242\n/srv\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		pf, err := parsePIDFile(s)
		if err != nil {
			return
		}
		first, _, _ := strings.Cut(s, "\n")
		if want, _ := strconv.Atoi(strings.TrimSpace(first)); pf.pid != want {
			t.Fatalf("parsePIDFile(%q).pid = %d, want %d", s, pf.pid, want)
		}
	})
}
