package fsm

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
)

// The token maps are skipped by the garbage collector only while their
// records hold no pointers: a string, slice or pointer field added to one
// would make every collection scan every token again.
func TestStoredTokens_HoldNoPointers(t *testing.T) {
	for _, v := range []any{Digest{}, storedAccess{}, storedRefresh{}} {
		if path := pointerIn(reflect.TypeOf(v), reflect.TypeOf(v).Name()); path != "" {
			t.Errorf("%s holds a pointer", path)
		}
	}
}

// pointerIn returns the path of a field of type typ that holds a pointer,
// or "" if none does.
func pointerIn(typ reflect.Type, path string) string {
	switch typ.Kind() {
	case reflect.Struct:
		for i := range typ.NumField() {
			f := typ.Field(i)
			if p := pointerIn(f.Type, path+"."+f.Name); p != "" {
				return p
			}
		}
		return ""
	case reflect.Array:
		return pointerIn(typ.Elem(), path+"[]")
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return ""
	}
	return path + " (" + typ.String() + ")"
}

// Owners interned from many goroutines at once, across several registry
// blocks, get one ID each, and every ID reads back as its owner.
func TestOwnerRegistry_ConcurrentInternsAgree(t *testing.T) {
	const workers, each = 4, ownerBlockSize + 300
	r := &ownerRegistry{ids: make(map[owner]ownerID)}
	ids := make([][]ownerID, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				o := owner{user: fmt.Sprint("user", i), realm: NativeRealm, client: fmt.Sprint(i % 3)}
				id := r.intern(o)
				if got := r.owner(id); got != o {
					t.Errorf("owner(%d) = %+v, want %+v", id, got, o)
					return
				}
				ids[w] = append(ids[w], id)
			}
		})
	}
	wg.Wait()
	for w := 1; w < workers; w++ {
		if !reflect.DeepEqual(ids[w], ids[0]) {
			t.Fatalf("worker %d got other IDs for the same owners", w)
		}
	}
	if n := len(r.ids); n != each {
		t.Fatalf("%d owners registered, want %d", n, each)
	}
}
