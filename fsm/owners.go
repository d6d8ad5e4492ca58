package fsm

import (
	"sync"
	"sync/atomic"
)

// ownerID names an interned owner. Token records hold one instead of a
// pointer so that the token maps hold no pointers at all: the garbage
// collector then skips them, and a million tokens add nothing to the work
// of each collection (a pointer per record made every cycle scan them all).
type ownerID uint32

// Interned owners live in fixed blocks, so that an owner never moves once
// its ID is handed out and readers need no lock.
const (
	ownerBlockBits = 10
	ownerBlockSize = 1 << ownerBlockBits
)

// ownerRegistry interns owners for the whole process: equal owners get equal
// IDs, whichever state, clone or restore stores them. It only grows, so it
// is bounded by the distinct (user, realm, client) triples that ever held a
// token here, which the user base bounds. A reader that got an ID from a
// token record read under the FSM's lock (or from a state it built itself)
// is ordered after the write that filled the ID's slot.
type ownerRegistry struct {
	mu     sync.Mutex
	ids    map[owner]ownerID
	blocks atomic.Pointer[[]*[ownerBlockSize]owner]
}

// owners is the registry of every state in the process.
var owners = &ownerRegistry{ids: make(map[owner]ownerID)}

// intern returns o's ID, registering o if it is new.
func (r *ownerRegistry) intern(o owner) ownerID {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.ids[o]; ok {
		return id
	}
	id := ownerID(len(r.ids))
	var blocks []*[ownerBlockSize]owner
	if p := r.blocks.Load(); p != nil {
		blocks = *p
	}
	if int(id>>ownerBlockBits) == len(blocks) {
		// A new slice, so that readers holding the old one are not raced.
		grown := append(blocks[:len(blocks):len(blocks)], new([ownerBlockSize]owner))
		r.blocks.Store(&grown)
		blocks = grown
	}
	blocks[id>>ownerBlockBits][id&(ownerBlockSize-1)] = o
	r.ids[o] = id
	return id
}

// owner returns the owner id names.
func (r *ownerRegistry) owner(id ownerID) owner {
	return (*r.blocks.Load())[id>>ownerBlockBits][id&(ownerBlockSize-1)]
}

// value returns the owner id names.
func (id ownerID) value() owner { return owners.owner(id) }
