package fsm

import (
	"bytes"
	"reflect"
	"testing"
)

func TestRole_PutReplaceDeleteAndSnapshotRoundTrip(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	before := snapshotBytes(t, h.f) // a snapshot without role records, as older builds wrote
	role := Role{Name: "ops", Cluster: []string{"monitor"}, Indices: []byte(`[{"names":["x"],"privileges":["read"]}]`),
		RunAs: []string{"bob"}, Metadata: []byte(`{"k":1}`)}
	if r := h.mustOK(&PutRole{Meta: Meta{Time: t0}, Role: role}); !r.Created {
		t.Fatalf("first put: %+v, want created", r)
	}
	role.Cluster = []string{"monitor", "manage_token"}
	if r := h.mustOK(&PutRole{Meta: Meta{Time: t0}, Role: role}); r.Created {
		t.Fatalf("second put: %+v, want an update", r)
	}
	got, ok := h.f.Role("ops")
	if !ok || !reflect.DeepEqual(got, role) {
		t.Fatalf("Role(ops) = %+v, %v; want %+v", got, ok, role)
	}

	g := New()
	if err := g.Restore(bytes.NewReader(snapshotBytes(t, h.f))); err != nil {
		t.Fatal(err)
	}
	if got, ok := g.Role("ops"); !ok || !reflect.DeepEqual(got, role) {
		t.Fatalf("restored Role(ops) = %+v, %v; want %+v", got, ok, role)
	}
	old := New()
	if err := old.Restore(bytes.NewReader(before)); err != nil {
		t.Fatalf("snapshot without roles: %v", err)
	}
	if n := len(old.Roles()); n != 0 {
		t.Fatalf("roles after restoring a snapshot without roles = %d", n)
	}

	if r := h.apply(&DeleteRole{Meta: Meta{Time: t0}, Name: "ops"}); r.Status != OK {
		t.Fatalf("delete: %v", r.Status)
	}
	if r := h.apply(&DeleteRole{Meta: Meta{Time: t0}, Name: "ops"}); r.Status != NotFound {
		t.Fatalf("second delete: %v, want not_found", r.Status)
	}
	if _, ok := h.f.Role("ops"); ok {
		t.Fatal("role still there after delete")
	}
}

func TestRole_CommandsSurviveEncodeDecode(t *testing.T) {
	t.Parallel()
	for _, c := range []Command{
		&PutRole{Meta: Meta{Time: t0}, Role: Role{Name: "r", Cluster: []string{"all"}}},
		&DeleteRole{Meta: Meta{Time: t0}, Name: "r"},
	} {
		data, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(data)
		if err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("Decode(Encode(%+v)) = %+v, %v", c, got, err)
		}
	}
}
