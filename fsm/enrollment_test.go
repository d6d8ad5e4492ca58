package fsm

import "testing"

// TestEnrollmentSingleUse: an enrollment credential is spent once, refused
// after that, refused past its expiry by the command's time, and unknown
// ones are refused; it survives a trip through the log encoding.
func TestEnrollmentSingleUse(t *testing.T) {
	h := newHarness(t)
	once, late := dg("once"), dg("late")
	h.mustOK(&CreateEnrollment{Meta: Meta{Time: 1000}, Digest: once, Expires: 5000})
	h.mustOK(&CreateEnrollment{Meta: Meta{Time: 1000}, Digest: late, Expires: 2000})
	if h.f.EnrollmentStatus(once, 1500) != OK {
		t.Fatal("a fresh enrollment is not reported outstanding")
	}
	data, err := Encode(&ConsumeEnrollment{Meta: Meta{Time: 1500}, Digest: once})
	if err != nil {
		t.Fatal(err)
	}
	c, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.apply(c).Status; got != OK {
		t.Fatalf("first use: %v, want ok", got)
	}
	if got := h.apply(&ConsumeEnrollment{Meta: Meta{Time: 1600}, Digest: once}).Status; got != Reused {
		t.Fatalf("second use: %v, want reused", got)
	}
	if h.f.EnrollmentStatus(once, 1600) != Reused {
		t.Fatal("a spent enrollment is reported outstanding")
	}
	if got := h.apply(&ConsumeEnrollment{Meta: Meta{Time: 2001}, Digest: late}).Status; got != Expired {
		t.Fatalf("use after expiry: %v, want expired", got)
	}
	if got := h.apply(&ConsumeEnrollment{Meta: Meta{Time: 2001}, Digest: dg("never")}).Status; got != NotFound {
		t.Fatalf("unknown enrollment: %v, want not_found", got)
	}
	h.mustOK(&Purge{Meta: Meta{Time: 6000}})
	if got := h.apply(&ConsumeEnrollment{Meta: Meta{Time: 6000}, Digest: once}).Status; got != NotFound {
		t.Fatalf("purged enrollment: %v, want not_found", got)
	}
}
