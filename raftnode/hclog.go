package raftnode

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strconv"

	"github.com/hashicorp/go-hclog"
)

// levelTrace is hclog's Trace level in slog terms (below Debug).
const levelTrace = slog.LevelDebug - 4

// hclogAdapter is an hclog.Logger that writes into a slog.Logger, so Raft's
// lines come out in the service's single log format, with their key/value
// pairs kept as attributes. Levels are the slog handler's business:
// SetLevel is ignored.
type hclogAdapter struct {
	base    *slog.Logger // the caller's logger, without name or implied args
	l       *slog.Logger // base with "logger"=name and the implied args
	name    string
	implied []any
}

var _ hclog.Logger = (*hclogAdapter)(nil)

// newHCLogger returns an hclog.Logger named name that logs to l.
func newHCLogger(l *slog.Logger, name string) hclog.Logger {
	return derive(l, name, nil)
}

// derive builds an adapter from its parts, so that renaming replaces the
// "logger" attribute instead of adding a second one.
func derive(base *slog.Logger, name string, implied []any) *hclogAdapter {
	l := base
	if name != "" {
		l = l.With("logger", name)
	}
	if len(implied) > 0 {
		l = l.With(slogArgs(implied)...)
	}
	return &hclogAdapter{base: base, l: l, name: name, implied: implied}
}

func toSlog(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return levelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	lv := toSlog(level)
	if level == hclog.Off || !a.enabled(lv) {
		return // before slogArgs, which allocates
	}
	a.l.Log(context.Background(), lv, msg, slogArgs(args)...)
}

// slogArgs renders hclog's argument conventions the way hclog itself does,
// since slog would print their Go representation: a Format value (hclog.Fmt,
// as raft logs "servers") is formatted, Hex, Octal, Binary and Quote are
// rendered, a trailing CapturedStacktrace becomes "stacktrace", a value
// without a key gets hclog's EXTRA_VALUE_AT_END key, and keys that are not
// strings are printed.
func slogArgs(args []any) []any {
	var tail []any
	if len(args)%2 != 0 {
		last := args[len(args)-1]
		args = args[:len(args)-1]
		if st, ok := last.(hclog.CapturedStacktrace); ok {
			tail = []any{"stacktrace", string(st)}
		} else {
			tail = []any{hclog.MissingKey, slogValue(last)}
		}
	}
	out := make([]any, 0, len(args)+len(tail))
	for i := 0; i+1 < len(args); i += 2 {
		key, ok := args[i].(string)
		if !ok {
			key = fmt.Sprint(args[i])
		}
		out = append(out, key, slogValue(args[i+1]))
	}
	return append(out, tail...)
}

// slogValue renders one hclog value; other values pass through unchanged.
func slogValue(v any) any {
	switch v := v.(type) {
	case hclog.Format:
		if len(v) == 0 {
			return ""
		}
		if format, ok := v[0].(string); ok {
			return fmt.Sprintf(format, v[1:]...)
		}
		return fmt.Sprint(v...)
	case hclog.Hex:
		return "0x" + strconv.FormatUint(uint64(v), 16)
	case hclog.Octal:
		return "0" + strconv.FormatUint(uint64(v), 8)
	case hclog.Binary:
		return "0b" + strconv.FormatUint(uint64(v), 2)
	case hclog.Quote:
		return strconv.Quote(string(v))
	case hclog.CapturedStacktrace:
		return string(v)
	}
	return v
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) enabled(l slog.Level) bool { return a.l.Enabled(context.Background(), l) }

func (a *hclogAdapter) IsTrace() bool { return a.enabled(levelTrace) }
func (a *hclogAdapter) IsDebug() bool { return a.enabled(slog.LevelDebug) }
func (a *hclogAdapter) IsInfo() bool  { return a.enabled(slog.LevelInfo) }
func (a *hclogAdapter) IsWarn() bool  { return a.enabled(slog.LevelWarn) }
func (a *hclogAdapter) IsError() bool { return a.enabled(slog.LevelError) }

func (a *hclogAdapter) ImpliedArgs() []any { return a.implied }

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	implied := append(append([]any(nil), a.implied...), args...)
	return derive(a.base, a.name, implied)
}

func (a *hclogAdapter) Name() string { return a.name }

func (a *hclogAdapter) Named(name string) hclog.Logger {
	if a.name != "" {
		name = a.name + "." + name
	}
	return a.ResetNamed(name)
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	return derive(a.base, name, a.implied)
}

func (a *hclogAdapter) SetLevel(hclog.Level) {}

func (a *hclogAdapter) GetLevel() hclog.Level {
	for _, lv := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if a.enabled(toSlog(lv)) {
			return lv
		}
	}
	return hclog.Off
}

func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	level := slog.LevelInfo
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = toSlog(opts.ForceLevel)
	}
	return slog.NewLogLogger(a.l.Handler(), level)
}

func (a *hclogAdapter) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return a.StandardLogger(opts).Writer()
}
