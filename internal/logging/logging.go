// Package logging builds the zerolog logger every command uses: JSON lines, or a readable
// console format when standard error is a terminal.
package logging

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/rs/zerolog"
)

// Format selects the output format.
type Format string

// Formats.
const (
	FormatAuto    Format = "auto" // console on a terminal, JSON otherwise
	FormatJSON    Format = "json"
	FormatConsole Format = "console"
)

// init sets zerolog's timestamp format, a package global every logger reads: once, before any
// goroutine can log. Setting it in New raced with the loggers of other servers in the same
// process (the tests run several).
func init() { zerolog.TimeFieldFormat = time.RFC3339Nano }

// New returns a logger at level ("debug", "info", "warn", "error") writing to w.
func New(w io.Writer, level string, format Format) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(strings.TrimSpace(level)))
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	if format == FormatAuto {
		format = FormatJSON
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = FormatConsole
		}
	}
	if format == FormatConsole {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}
