package codec

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// The decoder below decodes JSON objects into Go structs faster than encoding/json for the
// shapes event payloads have, and never differently: where its result could differ from
// encoding/json's it declines, and unmarshal hands the input to encoding/json.
//
// Replaying history (projection rebuilds, audit verify, folding streams on the command side)
// decodes every stored event, and encoding/json's generic machinery was most of that cost: a
// validity pass over every byte before decoding, a second scanner pass while decoding, and a
// third over each value handed to an UnmarshalJSON method. This decoder scans once, validating
// as it goes, and hands each field's bytes to the field type's value reader (values.go: the
// domain's ids, dates, periods, money and codes, read where they stand), to a plain string, to
// a slice of structs decoded the same way, or to the type's UnmarshalJSON; any other field is
// decoded by encoding/json on its own bytes.
//
// It declines, leaving the whole input to encoding/json, when:
//   - the input is not exactly one JSON object (anything encoding/json's validity check would
//     refuse is declined, so errors are always encoding/json's);
//   - a key has escapes, appears twice, or matches a field only without regard to case;
//   - a field's decoding fails (encoding/json then reports the error as it always has);
//   - the type has ",string" options, embedded pointers or interfaces, or embedded structs
//     whose fields collide (decoderFor returns nil for it).
//
// FuzzMatchesEncodingJSON and FuzzDecodeMatchesEncodingJSON check the result equals
// encoding/json's for every input it accepts.

// maxDepth bounds nesting; deeper input is declined (encoding/json allows 10,000).
const maxDepth = 64

// maxEmbedDepth bounds how deep struct types (embedded or in slices and pointers) are
// compiled into one decoder.
const maxEmbedDepth = 4

// structDecoder decodes JSON objects into one struct type.
type structDecoder struct {
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
	kindValue                        // the type's value reader (values.go), else UnmarshalJSON
	kindString                       // a plain string, else encoding/json
	kindStructSlice                  // []S where S has a decoder
	kindStructPtr                    // *S where S has a decoder
)

type field struct {
	name  string
	index []int // the field's index path: more than one index for a promoted field
	kind  fieldKind
	read  valueReader    // kindValue
	elem  *structDecoder // kindStructSlice, kindStructPtr
}

var (
	cache           sync.Map // reflect.Type -> *structDecoder (nil stored as (*structDecoder)(nil))
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textType        = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// decoderFor returns the decoder of struct type t, or nil when t has a shape this package
// leaves to encoding/json.
func decoderFor(t reflect.Type) *structDecoder {
	if d, ok := cache.Load(t); ok {
		dec, _ := d.(*structDecoder)
		return dec
	}
	d := build(t, 0)
	cache.Store(t, d)
	return d
}

func build(t reflect.Type, depth int) *structDecoder {
	if !plainStruct(t) || depth > maxEmbedDepth {
		return nil
	}
	d := &structDecoder{typ: t, byName: map[string]int{}}
	if !d.addFields(t, nil, depth) {
		return nil
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

// plainStruct reports whether t is a struct encoding/json decodes field by field (no
// UnmarshalJSON or UnmarshalText of its own).
func plainStruct(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && !reflect.PointerTo(t).Implements(unmarshalerType) &&
		!reflect.PointerTo(t).Implements(textType)
}

// addFields adds the fields of struct t, whose index path in the decoded type is at, and the
// promoted fields of the structs it embeds. false: a shape left to encoding/json.
func (d *structDecoder) addFields(t reflect.Type, at []int, depth int) bool {
	for i := range t.NumField() {
		sf := t.Field(i)
		path := append(append([]int(nil), at...), i)
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" && opts == "" {
			continue
		}
		for _, o := range strings.Split(opts, ",") {
			if o != "" && o != "omitempty" && o != "omitzero" {
				return false
			}
		}
		if sf.Anonymous && name == "" {
			// Embedded: a plain struct's fields are promoted, as encoding/json promotes them;
			// every other embedded shape is left to encoding/json.
			if !plainStruct(sf.Type) || depth+1 > maxEmbedDepth || !d.addFields(sf.Type, path, depth+1) {
				return false
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if _, dup := d.byName[name]; dup {
			return false // encoding/json's rules for colliding names are not ours to repeat
		}
		f := field{name: name, index: path}
		f.setKind(sf.Type, depth)
		d.byName[name] = len(d.fields)
		d.fields = append(d.fields, f)
	}
	return true
}

func (f *field) setKind(ft reflect.Type, depth int) {
	switch {
	case valueReaders[ft] != nil:
		f.kind, f.read = kindValue, valueReaders[ft]
	case reflect.PointerTo(ft).Implements(unmarshalerType):
		f.kind = kindUnmarshaler
	case reflect.PointerTo(ft).Implements(textType):
		f.kind = kindOther
	case ft == reflect.TypeFor[string]():
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
}

// value returns the field of struct value v that f decodes into.
func (f *field) value(v reflect.Value) reflect.Value {
	if len(f.index) == 1 {
		return v.Field(f.index[0])
	}
	return v.FieldByIndex(f.index)
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// unmarshal decodes data into v (a pointer to a struct), with the fast path where it applies
// and encoding/json otherwise: the result and the error are encoding/json's.
func unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		if d := decoderFor(rv.Type().Elem()); d != nil {
			if d.decode(data, rv.Elem()) {
				return nil
			}
			rv.Elem().SetZero() // the fast path may have set some fields before it declined
		}
	}
	return json.Unmarshal(data, v)
}

// decode decodes data into v, a settable zero value of the decoder's type, and reports
// whether it did; false leaves v partly set, for the caller to reset and hand to
// encoding/json.
func (d *structDecoder) decode(data []byte, v reflect.Value) bool {
	i := skipSpace(data, 0)
	end, ok := d.object(data, i, v, 0)
	if !ok {
		return false
	}
	return skipSpace(data, end) == len(data)
}

// object decodes the object at data[i] into v and returns the offset after it.
func (d *structDecoder) object(data []byte, i int, v reflect.Value, depth int) (int, bool) {
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
			f := &d.fields[n]
			if valEnd, ok = f.decodeAt(data, i, f.value(v), depth+1); !ok {
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
func (d *structDecoder) foldMatch(key []byte) bool {
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

// decodeAt decodes the value at data[i] into v and returns the offset after it. A value
// reader reads its value where it stands, slices and pointers of structs are decoded where
// they stand, a string is checked as it is scanned, in one pass; any other value is scanned
// first and its bytes handed on.
func (f *field) decodeAt(data []byte, i int, v reflect.Value, depth int) (int, bool) {
	if i >= len(data) || depth > maxDepth {
		return 0, false
	}
	switch f.kind {
	case kindValue:
		if n, ok := f.read(data[i:], v.Addr().Interface()); ok {
			return i + n, true
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
	if u, isU := v.Addr().Interface().(json.Unmarshaler); isU && (f.kind == kindUnmarshaler || f.kind == kindValue) {
		return end, u.UnmarshalJSON(raw) == nil
	}
	return end, json.Unmarshal(raw, v.Addr().Interface()) == nil
}

// slice decodes the JSON array of objects (or null) at data[i] into v, a []S, and returns
// the offset after it.
func (d *structDecoder) slice(data []byte, i int, v reflect.Value, depth int) (int, bool) {
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
func (d *structDecoder) pointer(data []byte, i int, v reflect.Value, depth int) (int, bool) {
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
