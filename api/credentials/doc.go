// Package credentials decides whether a presented password, token or node
// proof is genuine, and limits how fast anyone may guess.
//
// It lives under api because the HTTP edge is its only consumer: api reads
// the credentials off a request, calls this package, and words its typed
// answers (Rejection, TooManyFailures, ErrBusy, ErrClosed) as
// Elasticsearch's 401, 429 and 503 envelopes. Nothing here knows HTTP.
//
// Passwords: a Verifier compares bcrypt hashes behind a gate that bounds
// the CPU they take, remembers recent successes, merges identical checks in
// flight, compares unknown users against dummy hashes of a real user's cost,
// and charges failures to the username and client address. Tokens:
// NewToken, ParseToken and the sealed pair a refresh retry is answered with
// (SealPair). Nodes: a NodeGuard checks node proofs once each and limits
// failed ones per address.
package credentials
