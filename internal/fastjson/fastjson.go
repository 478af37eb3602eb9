// Package fastjson decodes JSON objects into Go structs faster than encoding/json for the
// shapes event payloads have, and never differently: where its result could differ from
// encoding/json's it declines, and Unmarshal hands the input to encoding/json.
//
// Replaying history (projection rebuilds, audit verify, folding streams on the command side)
// decodes every stored event, and encoding/json's generic machinery was most of that cost: a
// validity pass over every byte before decoding, a second scanner pass while decoding, and a
// third over each value handed to an UnmarshalJSON method. This decoder scans once, validating
// as it goes, and hands each field's bytes straight to the field's UnmarshalJSON method (the
// domain's value types have fast paths of their own), to a plain string, or to a slice of
// structs decoded the same way; any other field is decoded by encoding/json on its own bytes.
//
// It declines, leaving the whole input to encoding/json, when:
//   - the input is not exactly one JSON object (anything encoding/json's validity check would
//     refuse is declined, so errors are always encoding/json's);
//   - a key has escapes, appears twice, or matches a field only without regard to case;
//   - a field's decoding fails (encoding/json then reports the error as it always has);
//   - the type has embedded fields or ",string" options (Decoder returns nil for it).
//
// FuzzMatchesEncodingJSON (package internal/events) checks the result equals encoding/json's
// for every input it accepts.
package fastjson

import (
	"encoding"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxDepth bounds nesting; deeper input is declined (encoding/json allows 10,000).
const maxDepth = 64

// Decoder decodes JSON objects into one struct type.
type Decoder struct {
	typ    reflect.Type
	fields []field
	// byName finds a field by its exact JSON name.
	byName map[string]int
	// lowerNames holds every field name in lower case when all are ASCII (nil otherwise), so
	// foldMatch can answer for an ASCII key with one lookup.
	lowerNames map[string]bool
}

type fieldKind uint8

const (
	kindOther       fieldKind = iota // encoding/json on the field's bytes
	kindUnmarshaler                  // (*T).UnmarshalJSON
	kindPrefix                       // (*T).UnmarshalJSONPrefix, else UnmarshalJSON
	kindString                       // a plain string, else encoding/json
	kindStructSlice                  // []S where S has a Decoder
	kindStructPtr                    // *S where S has a Decoder
)

type field struct {
	name  string
	index int
	kind  fieldKind
	elem  *Decoder // kindStructSlice, kindStructPtr
}

// PrefixUnmarshaler is implemented by a json.Unmarshaler that can also read its value from
// the start of a longer input no one has scanned yet, saving the scan that finds where the
// value ends. UnmarshalJSONPrefix returns the length n of the value it read and true,
// having decoded what UnmarshalJSON(data[:n]) decodes, with data[:n] one valid JSON value;
// or false, leaving the receiver unchanged, and the decoder scans the value and calls
// UnmarshalJSON.
type PrefixUnmarshaler interface {
	json.Unmarshaler
	UnmarshalJSONPrefix(data []byte) (n int, ok bool)
}

var (
	cache           sync.Map // reflect.Type -> *Decoder (nil stored as (*Decoder)(nil))
	prefixType      = reflect.TypeFor[PrefixUnmarshaler]()
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// For returns the decoder of struct type t, or nil when t has a shape this package leaves to
// encoding/json (embedded fields, ",string" options, not a struct).
func For(t reflect.Type) *Decoder {
	if d, ok := cache.Load(t); ok {
		dec, _ := d.(*Decoder)
		return dec
	}
	d := build(t, 0)
	cache.Store(t, d)
	return d
}

func build(t reflect.Type, depth int) *Decoder {
	if t.Kind() != reflect.Struct || depth > 4 || reflect.PointerTo(t).Implements(unmarshalerType) || reflect.PointerTo(t).Implements(textType) {
		return nil
	}
	d := &Decoder{typ: t, byName: map[string]int{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Anonymous {
			return nil
		}
		if !sf.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		for _, o := range strings.Split(opts, ",") {
			if o != "" && o != "omitempty" && o != "omitzero" {
				return nil
			}
		}
		if name == "" {
			name = sf.Name
		}
		if _, dup := d.byName[name]; dup {
			return nil // encoding/json's rules for colliding names are not ours to repeat
		}
		f := field{name: name, index: i}
		ft := sf.Type
		switch {
		case reflect.PointerTo(ft).Implements(prefixType):
			f.kind = kindPrefix
		case reflect.PointerTo(ft).Implements(unmarshalerType):
			f.kind = kindUnmarshaler
		case reflect.PointerTo(ft).Implements(textType):
			f.kind = kindOther
		case ft.Kind() == reflect.String && ft == reflect.TypeFor[string]():
			f.kind = kindString
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			if elem := build(ft.Elem(), depth+1); elem != nil {
				f.kind, f.elem = kindStructSlice, elem
			}
		case ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct && !ft.Implements(unmarshalerType) && !ft.Implements(textType):
			if elem := build(ft.Elem(), depth+1); elem != nil {
				f.kind, f.elem = kindStructPtr, elem
			}
		}
		d.byName[name] = len(d.fields)
		d.fields = append(d.fields, f)
	}
	d.lowerNames = map[string]bool{}
	for _, f := range d.fields {
		if !isASCII([]byte(f.name)) {
			d.lowerNames = nil
			break
		}
		d.lowerNames[strings.ToLower(f.name)] = true
	}
	return d
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Unmarshal decodes data into v (a pointer to a struct), with the fast path where it applies
// and encoding/json otherwise: the result and the error are encoding/json's.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		if d := For(rv.Type().Elem()); d != nil {
			if d.Decode(data, rv.Elem()) {
				return nil
			}
			rv.Elem().SetZero() // the fast path may have set some fields before it declined
		}
	}
	return json.Unmarshal(data, v)
}

// Decode decodes data into v, a settable zero value of the decoder's type, and reports
// whether it did; false leaves v partly set, for the caller to reset and hand to
// encoding/json.
func (d *Decoder) Decode(data []byte, v reflect.Value) bool {
	i := skipSpace(data, 0)
	end, ok := d.object(data, i, v, 0)
	if !ok {
		return false
	}
	return skipSpace(data, end) == len(data)
}

// object decodes the object at data[i] into v and returns the offset after it.
func (d *Decoder) object(data []byte, i int, v reflect.Value, depth int) (int, bool) {
	if i >= len(data) || data[i] != '{' {
		return 0, false
	}
	var seenBuf [32]bool
	var seen []bool
	if len(d.fields) <= len(seenBuf) {
		seen = seenBuf[:len(d.fields)]
	} else {
		seen = make([]bool, len(d.fields))
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1, true
	}
	expect := 0 // the field after the last one decoded: encoders write fields in order
	for {
		key, plain, next, ok := scanKey(data, i)
		if !ok || !plain {
			return 0, false
		}
		i = next
		n, found := expect, expect < len(d.fields) && string(key) == d.fields[expect].name
		if !found {
			n, found = d.byName[string(key)]
		}
		if found {
			expect = n + 1
		}
		if found && seen[n] {
			return 0, false
		}
		var valEnd int
		switch {
		case found:
			seen[n] = true
			if valEnd, ok = d.fields[n].decodeAt(data, i, v.Field(d.fields[n].index), depth+1); !ok {
				return 0, false
			}
		case d.foldMatch(key):
			return 0, false // encoding/json would decode it into a field, case-insensitively
		default:
			if valEnd, ok = scanValue(data, i, depth+1); !ok {
				return 0, false
			}
		}
		next, closed, ok := afterMember(data, valEnd, '}')
		if !ok || closed {
			return next, ok
		}
		i = next
	}
}

// foldMatch reports whether key matches a field name without regard to case, as
// encoding/json matches keys it finds no exact field for.
func (d *Decoder) foldMatch(key []byte) bool {
	// An ASCII key matches an ASCII name without regard to case exactly when their lower
	// cases are equal (only non-ASCII keys fold in other ways, such as U+212A to 'k').
	var buf [64]byte
	if d.lowerNames != nil && len(key) <= len(buf) && isASCII(key) {
		for i, c := range key {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[i] = c
		}
		return d.lowerNames[string(buf[:len(key)])]
	}
	if !utf8.Valid(key) {
		return true // let encoding/json decide what invalid UTF-8 matches
	}
	for _, f := range d.fields {
		if strings.EqualFold(f.name, string(key)) {
			return true
		}
	}
	return false
}

// decodeAt decodes the value at data[i] into v and returns the offset after it. Slices and
// pointers of structs are decoded where they stand, in one pass; a string is checked as it is
// scanned; any other value is scanned first and its bytes handed on.
func (f *field) decodeAt(data []byte, i int, v reflect.Value, depth int) (int, bool) {
	if i >= len(data) || depth > maxDepth {
		return 0, false
	}
	switch f.kind {
	case kindPrefix:
		if p, _ := v.Addr().Interface().(PrefixUnmarshaler); p != nil {
			if n, ok := p.UnmarshalJSONPrefix(data[i:]); ok {
				return i + n, true
			}
		}
	case kindStructSlice:
		return f.elem.slice(data, i, v, depth)
	case kindStructPtr:
		return f.elem.pointer(data, i, v, depth)
	case kindString:
		if data[i] == '"' {
			end, plain, ok := scanString(data, i)
			if !ok {
				return 0, false
			}
			if inner := data[i+1 : end-1]; plain && utf8.Valid(inner) {
				v.SetString(string(inner))
				return end, true
			}
			return end, json.Unmarshal(data[i:end], v.Addr().Interface()) == nil
		}
	}
	end, ok := scanValue(data, i, depth)
	if !ok {
		return 0, false
	}
	raw := data[i:end]
	if f.kind == kindUnmarshaler || f.kind == kindPrefix {
		u, _ := v.Addr().Interface().(json.Unmarshaler)
		return end, u.UnmarshalJSON(raw) == nil
	}
	return end, json.Unmarshal(raw, v.Addr().Interface()) == nil
}

// slice decodes the JSON array of objects (or null) at data[i] into v, a []S, and returns
// the offset after it.
func (d *Decoder) slice(data []byte, i int, v reflect.Value, depth int) (int, bool) {
	if data[i] == 'n' { // null: encoding/json sets the slice to nil
		end, ok := literal(data, i, "null")
		if ok {
			v.SetZero()
		}
		return end, ok
	}
	if data[i] != '[' {
		return 0, false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		v.Set(reflect.MakeSlice(v.Type(), 0, 0)) // empty, not nil, as encoding/json leaves it
		return i + 1, true
	}
	// Grown as elements are decoded (doubling, so never to more than twice the objects the
	// input holds), rather than counted first in a pass of its own.
	s := reflect.New(v.Type()).Elem()
	for k := 0; ; k++ {
		if k == s.Cap() {
			s.Grow(1)
		}
		s.SetLen(k + 1)
		end, ok := d.object(data, i, s.Index(k), depth)
		if !ok {
			return 0, false
		}
		next, closed, ok := afterMember(data, end, ']')
		if !ok {
			return 0, false
		}
		i = next
		if closed {
			v.Set(s)
			return i, true
		}
	}
}

// pointer decodes the JSON object (or null) at data[i] into v, a nil *S, and returns the
// offset after it: null leaves it nil, as encoding/json does; an object allocates the S.
func (d *Decoder) pointer(data []byte, i int, v reflect.Value, depth int) (int, bool) {
	if data[i] == 'n' {
		end, ok := literal(data, i, "null")
		if ok {
			v.SetZero()
		}
		return end, ok
	}
	p := reflect.New(d.typ)
	end, ok := d.object(data, i, p.Elem(), depth)
	if !ok {
		return 0, false
	}
	v.Set(p)
	return end, true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanValue returns the offset after the JSON value starting at data[i], checking it is
// valid JSON as encoding/json's scanner defines it.
func scanValue(data []byte, i, depth int) (int, bool) {
	if i >= len(data) || depth > maxDepth {
		return 0, false
	}
	switch c := data[i]; {
	case c == '"':
		end, _, ok := scanString(data, i)
		return end, ok
	case c == '{':
		return scanComposite(data, i, '}', true, depth)
	case c == '[':
		return scanComposite(data, i, ']', false, depth)
	case c == 't':
		return literal(data, i, "true")
	case c == 'f':
		return literal(data, i, "false")
	case c == 'n':
		return literal(data, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return scanNumber(data, i)
	}
	return 0, false
}

func literal(data []byte, i int, lit string) (int, bool) {
	if len(data)-i < len(lit) || string(data[i:i+len(lit)]) != lit {
		return 0, false
	}
	return i + len(lit), true
}

// scanComposite scans an object (keys and ':' between) or an array.
func scanComposite(data []byte, i int, closer byte, object bool, depth int) (int, bool) {
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == closer {
		return i + 1, true
	}
	for {
		if object {
			_, _, next, ok := scanKey(data, i)
			if !ok {
				return 0, false
			}
			i = next
		}
		end, ok := scanValue(data, i, depth+1)
		if !ok {
			return 0, false
		}
		next, closed, ok := afterMember(data, end, closer)
		if !ok || closed {
			return next, ok
		}
		i = next
	}
}

// afterMember reads what follows a member (a value, or a key and value) ending at end: a ','
// and the next member's offset, or the closer and the offset after it (closed).
func afterMember(data []byte, end int, closer byte) (next int, closed, ok bool) {
	i := skipSpace(data, end)
	switch {
	case i >= len(data):
		return 0, false, false
	case data[i] == ',':
		return skipSpace(data, i+1), false, true
	case data[i] == closer:
		return i + 1, true, true
	}
	return 0, false, false
}

// scanKey scans an object's key at data[i] and the ':' after it; it returns the key's
// contents as written (escapes not undone; plain says there are none) and the offset of the
// value.
func scanKey(data []byte, i int) (key []byte, plain bool, value int, ok bool) {
	end, plain, ok := scanString(data, i)
	if !ok {
		return nil, false, 0, false
	}
	j := skipSpace(data, end)
	if j >= len(data) || data[j] != ':' {
		return nil, false, 0, false
	}
	return data[i+1 : end-1], plain, skipSpace(data, j+1), true
}

// scanString returns the offset after the string starting at data[i] and whether it holds
// no escapes.
func scanString(data []byte, i int) (end int, plain, ok bool) {
	if i >= len(data) || data[i] != '"' {
		return 0, false, false
	}
	plain = true
	for i++; i < len(data); i++ {
		// Eight bytes at a time up to the first one that needs a look: most of a payload's
		// bytes are inside strings, and most strings have nothing in them to look at.
		for i+8 <= len(data) {
			if m := special(binary.LittleEndian.Uint64(data[i:])); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		if i >= len(data) {
			break
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, plain, true
		case c < 0x20:
			return 0, false, false
		case c == '\\':
			plain = false
			if i+1 >= len(data) {
				return 0, false, false
			}
			i++
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(data)-i < 5 {
					return 0, false, false
				}
				for _, h := range data[i+1 : i+5] {
					if !isHex(h) {
						return 0, false, false
					}
				}
				i += 4
			default:
				return 0, false, false
			}
		}
	}
	return 0, false, false
}

// special marks the bytes of w (little-endian) that are '"', '\\' or a control character (below
// 0x20) with their high bit, by the word-at-a-time tests of "Bit Twiddling Hacks" (hasless,
// haszero). A byte above a marked one may be marked wrongly (a borrow), never one below, so
// the lowest mark is the first such byte, and none means there is none.
func special(w uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	quote, backslash := w^(ones*'"'), w^(ones*'\\')
	return ((w-ones*0x20)&^w | (quote-ones)&^quote | (backslash-ones)&^backslash) & highs
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// scanNumber scans -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func scanNumber(data []byte, i int) (int, bool) {
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		i = digits(data, i)
	default:
		return 0, false
	}
	if i < len(data) && data[i] == '.' {
		j := digits(data, i+1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(data, i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

func digits(data []byte, i int) int {
	for i < len(data) && data[i] >= '0' && data[i] <= '9' {
		i++
	}
	return i
}
