package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// code is a value type with its own UnmarshalJSON, as the domain's are.
type code string

func (c *code) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "bad" {
		return errors.New("bad code")
	}
	*c = code(strings.ToUpper(s))
	return nil
}

type line struct {
	Code  code   `json:"code"`
	Text  string `json:"text"`
	Count int    `json:"count"`
}

// head is embedded in sample: its fields are promoted, as in domain.InvoiceIssued.
type head struct {
	Title string `json:"title"`
	Seq   int    `json:"seq"`
}

type sample struct {
	head
	ID      code              `json:"id"`
	Name    string            `json:"name"`
	At      time.Time         `json:"at"`
	Lines   []line            `json:"lines"`
	N       int64             `json:"n,omitempty"`
	Ptr     *string           `json:"ptr"`
	Tags    map[string]string `json:"tags"`
	Flag    bool              `json:"flag"`
	Inner   *line             `json:"inner"`
	Skipped string            `json:"-"`
	Plain   string
}

// decodeBoth decodes data with the fast path and with encoding/json.
func decodeBoth(data []byte) (fast sample, accepted bool, std sample, stdErr error) {
	accepted = decoderFor(reflect.TypeFor[sample]()).decode(data, reflect.ValueOf(&fast).Elem())
	stdErr = json.Unmarshal(data, &std)
	return fast, accepted, std, stdErr
}

func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		accept bool
	}{
		{"every kind of field", `{"id":"ab","name":"Ada","at":"2026-03-01T10:00:00Z","lines":[{"code":"x","text":"t","count":2},{"code":"y"}],"n":7,"ptr":"p","tags":{"a":"b"},"flag":true,"Plain":"q"}`, true},
		{"whitespace everywhere", " \n{ \"id\" : \"ab\" ,\t\"lines\" : [ { \"code\" : \"x\" } , { } ] } \r\n", true},
		{"empty object", `{}`, true},
		{"embedded struct's fields", `{"title":"T","seq":2,"name":"n"}`, true},
		{"embedded field named in another case", `{"Title":"T"}`, false},
		{"empty and null lines", `{"lines":[]}`, true},
		{"null lines", `{"lines":null}`, true},
		{"pointer to a struct", `{"inner":{"code":"a","count":1}}`, true},
		{"null pointer", `{"inner":null}`, true},
		{"pointer to a non-object", `{"inner":[1]}`, false},
		{"unknown keys are skipped", `{"other":{"deep":[1,2,{"x":null}]},"name":"n"}`, true},
		{"escaped string value", `{"name":"a\nb\u00e9"}`, true},
		{"null into string", `{"name":null}`, true},
		{"null into value type", `{"id":null}`, true}, // handed to UnmarshalJSON, as encoding/json does
		{"negative exponent number", `{"n":-0,"tags":{"k":"v"}}`, true},
		{"escaped key", `{"n\u0061me":"x"}`, false},
		{"key differing in case", `{"NAME":"x"}`, false},
		{"duplicate key", `{"name":"a","name":"b"}`, false},
		{"field error", `{"id":"bad"}`, false},
		{"type mismatch", `{"name":1}`, false},
		{"element not an object", `{"lines":[1]}`, false},
		{"trailing garbage", `{"name":"a"}x`, false},
		{"two values", `{} {}`, false},
		{"not an object", `[1]`, false},
		{"null", `null`, false},
		{"truncated", `{"name":"a"`, false},
		{"bad escape", `{"other":"\x"}`, false},
		{"control character", "{\"other\":\"a\tb\"}", false},
		{"leading zero", `{"n":01}`, false},
		{"bare dot", `{"other":1.}`, false},
		{"invalid utf-8 in a plain string", "{\"name\":\"\xff\"}", true},
		{"literal junk", `{"flag":tru}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fast, accepted, std, stdErr := decodeBoth([]byte(tt.in))
			assert.Equal(t, tt.accept, accepted)
			if accepted {
				require.NoError(t, stdErr)
				assert.Equal(t, std, fast)
			}
		})
	}
}

func TestUnmarshalFallsBackWithEncodingJSONsError(t *testing.T) {
	var fast, std sample
	in := []byte(`{"name":"a","id":"bad"}`)
	err := unmarshal(in, &fast)
	stdErr := json.Unmarshal(in, &std)
	require.Error(t, err)
	assert.Equal(t, stdErr.Error(), err.Error())
	assert.Equal(t, std, fast, "the value is encoding/json's, not the fast path's partial one")
}

func TestForDeclinesShapesItDoesNotHandle(t *testing.T) {
	type embeddedPtr struct{ *line }
	type collide struct {
		head
		Title string `json:"title"` // shadows head.Title: encoding/json's depth rules decide
	}
	type stringOpt struct {
		N int `json:"n,string"`
	}
	type dupNames struct {
		A string `json:"X"`
		X string // named X by its field name
	}
	assert.Nil(t, decoderFor(reflect.TypeFor[embeddedPtr]()))
	assert.Nil(t, decoderFor(reflect.TypeFor[collide]()))
	assert.Nil(t, decoderFor(reflect.TypeFor[stringOpt]()))
	assert.Nil(t, decoderFor(reflect.TypeFor[dupNames]()))
	assert.Nil(t, decoderFor(reflect.TypeFor[code]()))
	assert.Nil(t, decoderFor(reflect.TypeFor[time.Time]()))
	assert.NotNil(t, decoderFor(reflect.TypeFor[sample]()))
}

// FuzzMatchesEncodingJSON: whatever the input, an accepted decode equals encoding/json's and
// encoding/json accepts it too.
func FuzzMatchesEncodingJSON(f *testing.F) {
	f.Add([]byte(`{"title":"t","seq":3,"id":"ab","name":"Ada","at":"2026-03-01T10:00:00Z","lines":[{"code":"x","text":"t","count":2}],"n":7,"ptr":"p","tags":{"a":"b"},"flag":true}`))
	f.Add([]byte(`{"lines":[{},{"code":"z"}],"Plain":"p","other":[true,false,null,-1.5e3]}`))
	f.Add([]byte(`{"inner":{"code":"q","text":"r"},"lines":null}`))
	f.Add([]byte(`{"name":"a\"b","text":"\u0041"}`))
	for _, k := range []string{"NAME", "plain", "Tags", "lineſ", "ID", "Id", "inneR", "x"} { // keys that fold (or not) to a field
		f.Add([]byte(`{"` + k + `":"v","lines":[{"CODE":"c"}]}`))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, accepted, std, stdErr := decodeBoth(data)
		if !accepted {
			return
		}
		if stdErr != nil {
			t.Fatalf("fast path accepted %q, encoding/json refused it: %v", data, stdErr)
		}
		if !reflect.DeepEqual(fast, std) {
			t.Fatalf("%q: fast path %+v, encoding/json %+v", data, fast, std)
		}
	})
}

// FuzzScanValue: the scanner accepts exactly what encoding/json calls valid (up to maxDepth).
func FuzzScanValue(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,-3e-2,"x\u00e9",true,false,null]}`, `"\\"`, `[]`, `  0 `, `{"a":{}}`, `[1,]`, `01`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		i := skipSpace(data, 0)
		end, ok := scanValue(data, i, 0)
		ok = ok && skipSpace(data, end) == len(data)
		valid := json.Valid(data)
		if ok && !valid {
			t.Fatalf("scanner accepted %q, which encoding/json calls invalid", data)
		}
		if valid && !ok && bytes.Count(data, []byte("["))+bytes.Count(data, []byte("{")) < maxDepth {
			t.Fatalf("scanner refused %q, which encoding/json calls valid", data)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(`{"id":"ab","name":"Ada","at":"2026-03-01T10:00:00Z","lines":[{"code":"x","text":"t","count":2},{"code":"y","text":"u","count":3}],"flag":true}`)
	b.Run("fastjson", func(b *testing.B) {
		for range b.N {
			var s sample
			if err := unmarshal(data, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for range b.N {
			var s sample
			if err := json.Unmarshal(data, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSpecialFindsEveryByteThatNeedsALook: special answers yes exactly when a byte of the word
// is '"', '\\' or below 0x20, for each byte value in each of the eight places.
func TestSpecialFindsEveryByteThatNeedsALook(t *testing.T) {
	for place := range 8 {
		for b := range 256 {
			w := uint64(0x6161616161616161)&^(0xff<<(8*place)) | uint64(b)<<(8*place) // "aaaaaaaa" with b at place
			want := b == '"' || b == '\\' || b < 0x20
			if got := special(w) != 0; got != want {
				t.Fatalf("special with %#x at byte %d = %t", b, place, got)
			}
		}
	}
}

// TestSpecialOnMixedWords: over words mixing all kinds of bytes (borrows between bytes are
// what word-at-a-time tests get wrong), the lowest mark is the first byte that needs a look.
func TestSpecialOnMixedWords(t *testing.T) {
	kinds := []byte{0x00, 0x1f, 0x20, 0x21, '"', '\\', 0x5b, 0x7f, 0x80, 0xa2, 0xdc, 0xff}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		var w uint64
		first := 8 // the first byte that needs a look; 8: none
		for place := range 8 {
			b := kinds[r.IntN(len(kinds))]
			w |= uint64(b) << (8 * place)
			if first == 8 && (b == '"' || b == '\\' || b < 0x20) {
				first = place
			}
		}
		if got := bits.TrailingZeros64(special(w)) / 8; got != first {
			t.Fatalf("special(%#016x) marks byte %d first, want %d", w, got, first)
		}
	}
}
