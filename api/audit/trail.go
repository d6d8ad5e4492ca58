package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// Defaults of Options.
const (
	DefaultMaxSize  = 64 << 20 // bytes per file before it is rotated
	DefaultMaxFiles = 8        // files kept, the current one included
)

// Options configures a Trail.
type Options struct {
	// Path is the current file; rotated files are Path.1 (newest) to
	// Path.<MaxFiles-1>.
	Path string
	// MaxSize is the size in bytes past which the current file is rotated
	// before the next write; MaxFiles bounds the files kept. Zero means the
	// defaults, so the trail holds at most about MaxSize*MaxFiles bytes.
	MaxSize  int64
	MaxFiles int
	// Include and Exclude filter by event.action, as Elasticsearch's
	// xpack.security.audit.logfile.events.include and .exclude: an empty
	// Include means every action but access_granted and
	// authentication_success; "_all" means every action.
	Include, Exclude []string
	// NodeID and NodeName are written on every event.
	NodeID, NodeName string
}

// Trail appends events to the audit files. It is safe for concurrent use.
type Trail struct {
	opts   Options
	filter filter

	mu   sync.Mutex
	f    *os.File
	size int64
	// last is the highest log index whose events are in the files; log
	// events at or below it are not written again.
	last uint64
	buf  bytes.Buffer
}

// Open opens (or creates) the trail at opts.Path and finds the last log
// index its files hold. A partial last line, left by a crash in the middle
// of a write, is cut off.
func Open(opts Options) (*Trail, error) {
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = DefaultMaxFiles
	}
	if err := os.MkdirAll(filepath.Dir(opts.Path), 0o750); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	t := &Trail{opts: opts, filter: newFilter(opts.Include, opts.Exclude)}
	if err := t.cutPartialLine(); err != nil {
		return nil, err
	}
	last, err := lastIndex(opts.Path, opts.MaxFiles)
	if err != nil {
		return nil, err
	}
	t.last = last
	if err := t.open(); err != nil {
		return nil, err
	}
	return t, nil
}

// LastIndex is the highest log index whose events the trail holds.
func (t *Trail) LastIndex() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// Log writes the events of the log entry at index, unless the trail holds
// that index already (a replay after a restart). All of them go in one
// write, so a crash leaves all or none.
func (t *Trail) Log(index uint64, events []Event) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if index <= t.last {
		return nil
	}
	t.last = index
	return t.write(events)
}

// Request writes a request event, stamped with the wall clock.
func (t *Trail) Request(e Event) error {
	e.Type = TypeRest
	if e.Timestamp == "" {
		e.Timestamp = StampNow()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.write([]Event{e})
}

// Sync flushes the current file to disk.
func (t *Trail) Sync() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.f.Sync()
}

// Close syncs and closes the current file.
func (t *Trail) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.f.Sync()
	return errors.Join(err, t.f.Close())
}

// write encodes the events the filter lets through and appends them in one
// write, rotating first if the file would grow past MaxSize. t.mu is held.
func (t *Trail) write(events []Event) error {
	t.buf.Reset()
	enc := json.NewEncoder(&t.buf)
	enc.SetEscapeHTML(false)
	for _, e := range events {
		if !t.filter.allows(e.Action) {
			continue
		}
		e.NodeID, e.NodeName = t.opts.NodeID, t.opts.NodeName
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("audit: encode: %w", err)
		}
	}
	if t.buf.Len() == 0 {
		return nil
	}
	if t.size > 0 && t.size+int64(t.buf.Len()) > t.opts.MaxSize {
		if err := t.rotate(); err != nil {
			return err
		}
	}
	n, err := t.f.Write(t.buf.Bytes())
	t.size += int64(n)
	if err != nil {
		return fmt.Errorf("audit: write: %w", err)
	}
	return nil
}

// rotate shifts Path.i to Path.i+1 (dropping the oldest), Path to Path.1,
// and starts a new Path. t.mu is held.
func (t *Trail) rotate() error {
	if err := errors.Join(t.f.Sync(), t.f.Close()); err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	p := t.opts.Path
	_ = os.Remove(rotated(p, t.opts.MaxFiles-1))
	for i := t.opts.MaxFiles - 2; i >= 1; i-- {
		if err := os.Rename(rotated(p, i), rotated(p, i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("audit: rotate: %w", err)
		}
	}
	if t.opts.MaxFiles > 1 {
		if err := os.Rename(p, rotated(p, 1)); err != nil {
			return fmt.Errorf("audit: rotate: %w", err)
		}
	} else if err := os.Remove(p); err != nil {
		return fmt.Errorf("audit: rotate: %w", err)
	}
	return t.open()
}

// open opens Path for appending. t.mu is held (or t is not yet shared).
func (t *Trail) open() error {
	f, err := os.OpenFile(t.opts.Path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: %w", err)
	}
	t.f, t.size = f, st.Size()
	return nil
}

// cutPartialLine truncates the current file after its last newline.
func (t *Trail) cutPartialLine() error {
	data, err := os.ReadFile(t.opts.Path)
	if errors.Is(err, os.ErrNotExist) || len(data) == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if end := bytes.LastIndexByte(data, '\n') + 1; end < len(data) {
		if err := os.Truncate(t.opts.Path, int64(end)); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
	return nil
}

// rotated is the name of the i-th rotated file of path.
func rotated(path string, i int) string { return path + "." + strconv.Itoa(i) }

// lastIndex returns the highest log.index in the newest of the files that
// holds a log event: the current one, then Path.1, and so on.
func lastIndex(path string, files int) (uint64, error) {
	for i := range files {
		name := path
		if i > 0 {
			name = rotated(path, i)
		}
		f, err := os.Open(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("audit: %w", err)
		}
		last, err := scanLastIndex(f)
		f.Close()
		if err != nil || last > 0 {
			return last, err
		}
	}
	return 0, nil
}

// scanLastIndex returns the highest log.index of the events in r.
func scanLastIndex(r io.Reader) (uint64, error) {
	var last uint64
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var e struct {
			Index uint64 `json:"log.index"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Index > last {
			last = e.Index
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("audit: read: %w", err)
	}
	return last, nil
}
