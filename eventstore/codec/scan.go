package codec

import (
	"encoding/binary"
	"math/bits"
)

// The scanner: it checks JSON as encoding/json's scanner defines it while finding where each
// value ends, in one pass, without allocating.

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
