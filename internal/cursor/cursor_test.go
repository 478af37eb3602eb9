package cursor

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTripAndRefusals(t *testing.T) {
	c := New("dotmac.test.cursor")
	s := c.Encode("list?x=1", "2026-01-01", "id-7")
	key, err := c.Decode(s, "list?x=1")
	require.NoError(t, err)
	require.Equal(t, []string{"2026-01-01", "id-7"}, key)

	_, err = c.Decode(s, "list?x=2")
	require.ErrorIs(t, err, ErrInvalid, "another scope")
	_, err = New("dotmac.other.cursor").Decode(s, "list?x=1")
	require.ErrorIs(t, err, ErrInvalid, "another API")
	altered := []byte(s)
	altered[3] ^= 1
	_, err = c.Decode(string(altered), "list?x=1")
	require.ErrorIs(t, err, ErrInvalid, "altered")
	for _, bad := range []string{"", "!!", "YQ", c.Encode("list?x=1")} {
		_, err = c.Decode(bad, "list?x=1")
		require.ErrorIs(t, err, ErrInvalid, bad)
	}
}

func FuzzDecode(f *testing.F) {
	c := New("dotmac.test.cursor")
	f.Add(c.Encode("s", "k"), "s")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, s, scope string) {
		_, _ = c.Decode(s, scope) // never panics
	})
}
