package api

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokend/tokend/api/credentials"
)

// gate decides who a request comes from and what it may do: users'
// credentials (auth.go, passwords.go), node proofs and certificates
// (nodeauth.go, nodecert.go), and the audit trail of both (audit.go).
type gate struct {
	*deps
	passwords *credentials.Verifier // password checks and their failure limits
	peers     *nodeGuard            // node proofs: replay guard, failure limits per address
	roles     roleGrants            // users' roles resolved into privileges
}

// newGate returns the gate over d, registering its metrics on reg.
func newGate(d *deps, reg prometheus.Registerer) *gate {
	g := &gate{deps: d, peers: newNodeGuard(reg), roles: roleGrants{log: d.log}}
	g.passwords = credentials.NewVerifier(credentials.Config{State: d.state, CatchUp: d.reads.CatchUp,
		Credential: d.cfg.Credential, Log: d.log})
	return g
}
