package codec

import "reflect"

// FastPathTakes reports whether the one-pass decoder decodes data as a value of typ without
// declining to encoding/json.
func FastPathTakes(typ reflect.Type, data []byte) bool {
	d := decoderFor(typ)
	return d != nil && d.decode(data, reflect.New(typ).Elem())
}
