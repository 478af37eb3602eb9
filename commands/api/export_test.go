package api

// RequestHash exposes requestHash to the tests.
var RequestHash = requestHash
