package pgstore

import "encoding/json"

// appendHeaders appends the JSON object of a stored response's headers to buf (null for a nil
// map): what encoding/json makes of the map, up to the order of its members, which jsonb does
// not keep anyway. It exists because json.Marshal walks a map through reflection and was a
// visible share of a completion's CPU.
func appendHeaders(buf []byte, h map[string]string) []byte {
	if h == nil {
		return append(buf, "null"...)
	}
	buf = append(buf, '{')
	first := true
	for name, value := range h {
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendJSONString(buf, name)
		buf = append(buf, ':')
		buf = appendJSONString(buf, value)
	}
	return append(buf, '}')
}

// appendJSONString appends s as a JSON string: printable ASCII other than the quote and the
// backslash as it is (every header this API writes), anything else through encoding/json.
func appendJSONString(buf []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			b, _ := json.Marshal(s) // a string always marshals
			return append(buf, b...)
		}
	}
	buf = append(buf, '"')
	buf = append(buf, s...)
	return append(buf, '"')
}
