package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// DefaultBodyLimit is the largest request body the APIs read (1 MiB).
const DefaultBodyLimit int64 = 1 << 20

// DecodeJSON reads r's body (at most limit bytes) into dst, rejecting unknown fields,
// trailing data and a non-JSON content type. Errors are *Problem values (400 or 413) that
// name the offending field where encoding/json says which one it is.
//
// A Content-Length over limit is refused before a byte is read, so a client that waits for
// "100 Continue" (curl's default for large bodies) gets the 413 instead of a connection reset
// half-way through its upload; a body of unannounced length is read up to limit, then refused.
func DecodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return &Problem{Type: "/problems/unsupported-media-type", Title: "Unsupported media type", Status: http.StatusUnsupportedMediaType,
			Detail: "send application/json, not " + ct}
	}
	if r.ContentLength > limit {
		return TooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return TooLarge(limit)
		}
		return BadRequest("could not read the request body: " + err.Error())
	}
	return DecodeJSONBytes(body, dst)
}

// DecodeJSONBytes is DecodeJSON over bytes already read.
func DecodeJSONBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequest("the request body is empty; send a JSON object")
	}
	if raw, ok := dst.(*json.RawMessage); ok && json.Valid(body) {
		// One JSON value and nothing after it but whitespace: the decoder below would only
		// check as much, after copying the body twice (its buffer, then the raw message).
		// Around a valid value, TrimSpace trims JSON's whitespace alone, as the decoder did.
		*raw = bytes.TrimSpace(body)
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonProblem(err)
	}
	// What follows the value must be whitespace: the decoder's More, used before, let a
	// stray ']' or '}' after it through.
	if len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		return BadRequest("the body holds more than one JSON value")
	}
	return nil
}

func jsonProblem(err error) *Problem {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return BadRequest(fmt.Sprintf("malformed JSON at byte %d: %v", syn.Offset, syn))
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return BadRequest("a field has the wrong type", FieldError{Field: field, Reason: fmt.Sprintf("must be %s, got %s", jsonKind(typ.Type.Kind().String()), typ.Value)})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return BadRequest("the body has a field this endpoint does not know", FieldError{Field: name, Reason: "unknown field"})
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return BadRequest("malformed JSON: the body ends too early")
	default:
		var fe interface{ FieldErrors() []FieldError }
		if errors.As(err, &fe) {
			return BadRequest("some fields are invalid", fe.FieldErrors()...)
		}
		return BadRequest("malformed JSON: " + err.Error())
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "int", "int32", "int64", "uint", "uint32", "uint64":
		return "an integer"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "struct", "map":
		return "an object"
	default:
		return k
	}
}

// WriteJSON writes v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
