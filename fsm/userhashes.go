package fsm

// EachUserHash calls fn with the stored password hash of every user that has
// one, in no particular order, holding the state's read lock: fn must not
// call the FSM, and must neither modify nor keep the hash. It lets a caller
// summarise the hashes (their bcrypt costs, say) without copying every user.
func (f *FSM) EachUserHash(fn func(hash []byte)) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, u := range f.s.users {
		if len(u.Hash) > 0 {
			fn(u.Hash)
		}
	}
}
