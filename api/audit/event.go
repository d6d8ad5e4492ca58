package audit

import "time"

// Event types.
const (
	TypeRest = "rest" // a request, written by the node that served it
	TypeLog  = "log"  // an entry of the replicated log, written by every node
)

// Event is one line of the audit file. Field names are Elasticsearch's
// where it has one; the log event details are tokend's.
type Event struct {
	Timestamp string `json:"@timestamp"`
	NodeID    string `json:"node.id,omitempty"`
	NodeName  string `json:"node.name,omitempty"`
	Type      string `json:"event.type"`
	Action    string `json:"event.action"`

	UserName      string `json:"user.name,omitempty"`
	UserRealm     string `json:"user.realm,omitempty"`
	AuthType      string `json:"authentication.type,omitempty"`
	OriginType    string `json:"origin.type,omitempty"`
	OriginAddress string `json:"origin.address,omitempty"`
	URLPath       string `json:"url.path,omitempty"`
	Method        string `json:"request.method,omitempty"`
	RequestID     string `json:"request.id,omitempty"`
	// Privilege is the Elasticsearch action a request was granted or
	// denied.
	Privilege string `json:"action,omitempty"`
	Reason    string `json:"reason,omitempty"`

	// Log events.
	Index     uint64 `json:"log.index,omitempty"`
	GrantType string `json:"token.grant_type,omitempty"`
	Client    string `json:"token.client,omitempty"`
	By        string `json:"invalidate.by,omitempty"`
	Tokens    *int   `json:"tokens.count,omitempty"`
	Role      string `json:"role.name,omitempty"`
	Member    string `json:"member.id,omitempty"`
}

// stamp formats t as Elasticsearch's audit log does.
func stamp(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// StampMillis formats a Unix millisecond time, the log's clock.
func StampMillis(ms int64) string { return stamp(time.UnixMilli(ms)) }

// StampNow formats the wall clock, for request events.
func StampNow() string { return stamp(time.Now()) }
