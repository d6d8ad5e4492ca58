package credentials

import "golang.org/x/crypto/bcrypt"

// The bcrypt costs tokend stores and verifies. Each step doubles a
// comparison's time, and bcrypt cannot be interrupted once it runs, so the
// upper bound is the only real bound on how long one password check holds a
// bcrypt slot: about a second at cost 14 on current hardware, where cost 31
// would take days. The lower bound is the contract's (cost ≥ 10,
// Elasticsearch's default); the upper one is Elasticsearch's strongest
// hashing setting (bcrypt14), so every hash Elasticsearch can produce at
// cost 10 or more can be imported.
const (
	// DefaultCost is the cost of the hashes tokend makes (HashPassword):
	// 10, Elasticsearch's default.
	DefaultCost = bcrypt.DefaultCost
	// MinCost is the lowest cost of a hash tokend accepts.
	MinCost = DefaultCost
	// MaxCost is the highest cost of a hash tokend accepts or compares.
	MaxCost = 14
)

// HashPassword returns the bcrypt hash of password at DefaultCost.
func HashPassword(password string) ([]byte, error) {
	return bcrypt.GenerateFromPassword([]byte(password), DefaultCost)
}

// hashCost returns the cost of a bcrypt hash, or false if hash is not one.
func hashCost(hash []byte) (int, bool) {
	cost, err := bcrypt.Cost(hash)
	return cost, err == nil
}

// verifiable reports whether a stored hash may be compared against: a bcrypt
// hash of at most MaxCost. A hash stored by an older build, or replicated
// before the API refused it, may be anything; it is never handed to bcrypt.
func verifiable(hash []byte) bool {
	cost, ok := hashCost(hash)
	return ok && cost <= MaxCost
}
