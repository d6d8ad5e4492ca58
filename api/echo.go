package api

import "unicode/utf8"

// maxEchoBytes bounds what an error reason quotes of the request (a
// username, a user name in the path, the request URI): enough to recognise
// it, never a megabyte sent back to the client and into the log.
const maxEchoBytes = 128

// echoed returns s as an error reason may quote it: s itself when it fits in
// maxEchoBytes, otherwise its first maxEchoBytes bytes (cut at a character
// boundary) followed by "...".
func echoed(s string) string {
	if len(s) <= maxEchoBytes {
		return s
	}
	cut := maxEchoBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
