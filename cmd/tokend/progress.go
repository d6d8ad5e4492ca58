package main

import (
	"fmt"
	"golang.org/x/term"
	"io"
	"os"
	"time"
)

// progressEvery is how often a transfer's progress line is redrawn.
const progressEvery = 250 * time.Millisecond

// progress draws a snapshot transfer's advance, in bytes and records, on one
// line of stderr that it redraws in place. It draws nothing when stderr is
// not a terminal or --quiet was given, nor for a transfer that ends before
// the first redraw, so small states stay quiet. It is not safe for
// concurrent use.
type progress struct {
	w        io.Writer // nil: draw nothing
	verb     string
	size     int64  // total bytes; <= 0 when unknown
	records  uint64 // total records; 0 until the header is read
	nbytes   int64
	nrecords uint64
	next     time.Time // no redraw before
	open     bool      // a line is drawn and not yet ended
	shown    bool      // anything was drawn
}

// newProgress returns the progress of a transfer of size bytes (<= 0 when
// unknown), drawn on e's stderr if it is a terminal and quiet is false.
func newProgress(e env, quiet bool, verb string, size int64) *progress {
	p := &progress{verb: verb, size: size, next: time.Now().Add(progressEvery)}
	if !quiet && isTerminal(e.stderr) {
		p.w = e.stderr
	}
	return p
}

// reader returns r counting the bytes read from it on p.
func (p *progress) reader(r io.Reader) io.Reader { return &progressReader{p: p, r: r} }

// record counts one record.
func (p *progress) record() {
	p.nrecords++
	if p.nrecords%1024 == 0 {
		p.maybeDraw()
	}
}

// maybeDraw redraws the line if progressEvery has passed since the last time.
func (p *progress) maybeDraw() {
	if p.w == nil {
		return
	}
	if now := time.Now(); now.After(p.next) {
		p.next = now.Add(progressEvery)
		p.draw()
	}
}

// draw writes the line, e.g. "downloading 12.0 MiB of 48.0 MiB (25%), 250000 of 1000001 records".
func (p *progress) draw() {
	line := p.verb + " " + mib(p.nbytes)
	if p.size > 0 {
		line += fmt.Sprintf(" of %s (%d%%)", mib(p.size), p.nbytes*100/p.size)
	}
	line += fmt.Sprintf(", %d", p.nrecords)
	if p.records > 0 {
		line += fmt.Sprintf(" of %d", p.records)
	}
	fmt.Fprintf(p.w, "\r%s records ", line)
	p.open, p.shown = true, true
}

// done draws the final state and ends the line, if anything was drawn.
func (p *progress) done() {
	if p.open {
		p.draw()
		fmt.Fprintln(p.w)
		p.open = false
	}
}

// note writes msg on a line of its own, if the progress was shown at all.
func (p *progress) note(msg string) {
	if p.shown {
		fmt.Fprintln(p.w, msg)
	}
}

// progressReader counts what is read through it.
type progressReader struct {
	p *progress
	r io.Reader
}

// Read reads from the underlying reader and counts the bytes.
func (r *progressReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.p.nbytes += int64(n)
	return n, err
}

// isTerminal reports whether f is an *os.File open on a terminal (not
// merely a character device such as /dev/null).
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && term.IsTerminal(int(file.Fd()))
}

// mib formats a byte count in MiB with one decimal.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
