package bench

import (
	"bytes"
	"slices"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
)

// TestTheServerUnderTestRunsTheWholeSystem: whatever the inherited environment says, the
// server under test gets every role and its process managers (entries that follow the
// inherited ones, so they win), and each inherited value overridden is named in a warning.
func TestTheServerUnderTestRunsTheWholeSystem(t *testing.T) {
	want := []string{"DOTMAC_ROLE=command,query,projector", "DOTMAC_PROCESS_MANAGERS=true"}
	for _, c := range []struct {
		name   string
		env    map[string]string
		warned []string
	}{
		{name: "nothing inherited", env: map[string]string{}},
		{name: "the same inherited", env: map[string]string{"DOTMAC_ROLE": "command,query,projector", "DOTMAC_PROCESS_MANAGERS": "true"}},
		{name: "no process managers", env: map[string]string{"DOTMAC_PROCESS_MANAGERS": "false"}, warned: []string{"DOTMAC_PROCESS_MANAGERS"}},
		{name: "one role, no managers", env: map[string]string{"DOTMAC_ROLE": "query", "DOTMAC_PROCESS_MANAGERS": "0"},
			warned: []string{"DOTMAC_ROLE", "DOTMAC_PROCESS_MANAGERS"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			got := wholeSystem(zerolog.New(&logs), func(k string) (string, bool) { v, ok := c.env[k]; return v, ok })
			assert.Equal(t, want, got)
			for _, name := range []string{"DOTMAC_ROLE", "DOTMAC_PROCESS_MANAGERS"} {
				if slices.Contains(c.warned, name) {
					assert.Contains(t, logs.String(), `"variable":"`+name+`"`)
					assert.Contains(t, logs.String(), `"inherited":"`+c.env[name]+`"`)
				} else {
					assert.NotContains(t, logs.String(), name)
				}
			}
		})
	}
}
