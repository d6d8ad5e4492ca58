// Package gateway runs real nginx and Caddy processes in front of a real
// three-node tokend cluster and a backend that echoes the identity headers it
// receives: nginx with auth_request, Caddy with forward_auth, both asking
// GET /_tokend/auth. The tests skip, saying so, when a gateway binary is
// missing (.ci/run installs both).
package gateway
