package audit

// SignForTest signs msg with k, as an insider's own tooling would with a key of theirs.
func SignForTest(k *SigningKey, msg []byte) string { return k.sign(msg) }
