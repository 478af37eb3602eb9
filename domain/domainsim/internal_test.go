package domainsim

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
)

func TestMoneyScalesToTheMinorUnit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cents    int64
		currency string
		want     string
	}{
		{7999, "USD", "79.99"}, {7999, "BHD", "79.990"}, {7999, "JPY", "80"}, {7949, "JPY", "79"}, {350, "KWD", "3.500"},
	} {
		cur, err := domain.ParseCurrency(tc.currency)
		require.NoError(t, err)
		assert.Equal(t, tc.want+" "+tc.currency, money(tc.cents, cur).String())
	}
}

// TestCommandKindsAreTheDomains: commandKinds lists every command type domain/ declares (a
// type with an accountCommand, serviceCommand, planCommand or billingRunCommand method).
func TestCommandKindsAreTheDomains(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../*.go")
	require.NoError(t, err)
	var declared []string
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		require.NoError(t, err)
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || !strings.HasSuffix(fn.Name.Name, "Command") || len(fn.Recv.List) != 1 {
				continue
			}
			if id, ok := fn.Recv.List[0].Type.(*ast.Ident); ok && fn.Name.Name != "Command" {
				declared = append(declared, id.Name)
			}
		}
	}
	slices.Sort(declared)
	kinds := CommandKinds()
	slices.Sort(kinds)
	assert.Equal(t, declared, kinds)
}

// TestNoFloat64: money and every other amount are integers and decimals here.
func TestNoFloat64(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f) // #nosec G304 -- the package's own sources
		require.NoError(t, err)
		assert.NotContains(t, string(src), "float"+"64", f)
	}
}
