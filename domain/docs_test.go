package domain_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/dotmac/ledger/domain"
)

// docs/events.md documents every event and every JSON field of it.
func TestEventsAreDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "events.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := strings.Split(string(doc), "\n### ")
	for _, e := range sampleEvents() {
		section := ""
		for _, s := range sections {
			if strings.HasPrefix(s, e.EventType()+"\n") || strings.HasPrefix(s, e.EventType()+" ") {
				section = s
			}
		}
		if section == "" {
			t.Errorf("docs/events.md has no section ### %s", e.EventType())
			continue
		}
		for _, field := range jsonFields(e) {
			if !strings.Contains(section, "`"+field+"`") {
				t.Errorf("docs/events.md: %s does not document `%s`", e.EventType(), field)
			}
		}
	}
}

// jsonFields lists the top-level JSON field names of e.
func jsonFields(e domain.Event) []string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(must(json.Marshal(e)), &m); err != nil {
		panic(err)
	}
	var names []string
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
