package fsm

import (
	"errors"
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Type identifies the kind of a command in the Raft log. It is the first byte
// of every entry.
type Type uint8

// Command types. Values are part of the log format: never renumber them.
const (
	TypeCreateToken Type = 1
	TypeRefresh     Type = 2
	TypeInvalidate  Type = 3
	TypePurge       Type = 4
	TypePutUser     Type = 5
	TypeDeleteUser  Type = 6
	TypeSetPassword Type = 7
	TypeSetEnabled  Type = 8
	TypeSetNode     Type = 9
	TypeInitCluster Type = 10
	TypeBatch       Type = 11
	TypePutRole     Type = 12
	TypeDeleteRole  Type = 13
)

// IgnorableFlag marks a command type that an older replica which does not know
// it may skip instead of refusing the entry.
const IgnorableFlag Type = 0x80

// FormatVersion is the version of the entry body encoding, the second byte of
// every entry.
const FormatVersion uint8 = 1

// ErrUnknownCommand is returned by Decode for a command type this build does
// not know and that is not marked ignorable.
var ErrUnknownCommand = errors.New("fsm: unknown command type")

// ErrMalformed is returned by Decode for an entry that cannot be decoded.
var ErrMalformed = errors.New("fsm: malformed entry")

// RequestID is chosen by the proposer, once per client request, and kept across
// retries, so that an entry proposed twice (after an indeterminate result) is
// applied once.
type RequestID [16]byte

// Meta is carried by every command.
type Meta struct {
	// ID deduplicates retried proposals.
	ID RequestID `msgpack:"id"`
	// Time is the proposer's clock in Unix milliseconds. The proposer is the
	// leader, so all expiry decisions use the leader's clock. The command
	// takes effect at Time or at the latest time a command already took
	// effect (FSM.LastTime), whichever is later.
	Time int64 `msgpack:"t"`
}

// Command is a state change that can be written to the log.
type Command interface {
	// Type is the command's log type.
	Type() Type
	// Header returns the command's Meta.
	Header() *Meta
}

// Realm names the realm a user authenticates against.
type Realm struct {
	Name string `msgpack:"n" json:"name"`
	Type string `msgpack:"t" json:"type"`
}

// The two realms tokend serves.
var (
	NativeRealm   = Realm{Name: "default_native", Type: "native"}
	ReservedRealm = Realm{Name: "reserved", Type: "reserved"}
)

// CreateToken stores a new access token and, when Refresh is set, a refresh
// token linked to it.
type CreateToken struct {
	Meta
	Access  Digest `msgpack:"a"`
	Refresh Digest `msgpack:"r"` // zero for an access-only token
	User    string `msgpack:"u"`
	Realm   Realm  `msgpack:"rl"`
	// Lifetime of the access token in milliseconds.
	Lifetime int64 `msgpack:"l"`
	// Client is the identity of the authenticated caller that asked for the
	// token ("" when the request carried no credentials). Only that client
	// may refresh the token.
	Client string `msgpack:"c"`
	// PasswordCheck, when set, is the SHA-256 of the password hash the
	// user's credentials were verified against: the token is refused if the
	// password changed before the entry was applied.
	PasswordCheck Digest `msgpack:"pc,omitempty"`
	// TokenCheck, when set, is the access token the caller authenticated
	// with: the token is refused if that one is no longer valid at Time.
	TokenCheck Digest `msgpack:"tc,omitempty"`
}

// Refresh spends the refresh token Presented and, if it may be spent, stores
// the new pair NewAccess/NewRefresh. Sealed is that new pair encrypted under a
// key derived from the presented refresh token; it is kept so a retry within
// the grace window can be answered with the same pair.
type Refresh struct {
	Meta
	Presented  Digest `msgpack:"p"`
	Client     string `msgpack:"c"`
	NewAccess  Digest `msgpack:"na"`
	NewRefresh Digest `msgpack:"nr"`
	Sealed     []byte `msgpack:"s"`
	Lifetime   int64  `msgpack:"l"`
	// RevokeOnReplay invalidates every live token descended from the
	// presented one when it is reused after the grace window.
	RevokeOnReplay bool `msgpack:"rr"`
}

// InvalidateBy selects what an Invalidate command matches.
type InvalidateBy uint8

// Invalidation selectors.
const (
	ByAccessToken  InvalidateBy = 1
	ByRefreshToken InvalidateBy = 2
	ByUser         InvalidateBy = 3 // Username, and Realm if it is set
	ByRealm        InvalidateBy = 4
	// ByRefreshFamily takes a refresh token's digest and invalidates every
	// access and refresh token of the grant it belongs to (RFC 7009 §2.1).
	ByRefreshFamily InvalidateBy = 5
)

// Invalidate marks tokens as invalidated.
type Invalidate struct {
	Meta
	By       InvalidateBy `msgpack:"b"`
	Token    Digest       `msgpack:"d"`
	Username string       `msgpack:"u"`
	Realm    string       `msgpack:"r"`
}

// Purge removes, relative to the command's Time, access token records
// expired for ExpiredAccessRetention, refresh token records more than
// RecordRetention old, and request records more than DedupRetention old.
type Purge struct {
	Meta
}

// PutUser creates or replaces a native user. A nil PasswordHash keeps the
// current hash of an existing user. Reserved users are created this way at
// bootstrap.
type PutUser struct {
	Meta
	User User `msgpack:"u"`
}

// DeleteUser removes a user and invalidates all of its tokens.
type DeleteUser struct {
	Meta
	Username string `msgpack:"u"`
}

// SetPassword replaces a user's bcrypt hash.
type SetPassword struct {
	Meta
	Username string `msgpack:"u"`
	Hash     []byte `msgpack:"h"`
}

// SetEnabled enables or disables a user; disabling invalidates the user's
// tokens.
type SetEnabled struct {
	Meta
	Username string `msgpack:"u"`
	Enabled  bool   `msgpack:"e"`
}

// SetNode records the HTTP address of a cluster node, so any node can forward
// to the leader's API. An empty HTTPAddr forgets the node, its replica mark
// included. Replica marks the node a read replica (`tokend serve
// --replica`): a permanent non-voter that no leader promotes. The mark
// stays until the node is forgotten; a SetNode without it (an address
// change) leaves it as it is.
type SetNode struct {
	Meta
	NodeID   string `msgpack:"n"`
	HTTPAddr string `msgpack:"h"`
	Replica  bool   `msgpack:"r,omitempty"`
}

// InitCluster records the cluster's identity once, when it is bootstrapped.
// Later InitCluster commands leave the identity as it is.
type InitCluster struct {
	Meta
	UUID string `msgpack:"u"`
}

// PutRole creates or replaces a custom role.
type PutRole struct {
	Meta
	Role Role `msgpack:"r"`
}

// DeleteRole removes a custom role.
type DeleteRole struct {
	Meta
	Name string `msgpack:"n"`
}

// MaxBatch is the most commands one Batch may carry.
const MaxBatch = 1024

// Batch is commands proposed together as one log entry, so that many
// concurrent requests cost one Raft entry. Each keeps its own Meta (and so
// its own deduplication); Apply applies them in order and returns their
// results in Result.Results. Entries holds each command as Encode wrote it;
// a Batch never nests another.
type Batch struct {
	Meta
	Entries [][]byte `msgpack:"e"`

	commands []Command // Entries decoded by Decode
}

// NewBatch encodes cs into a Batch.
func NewBatch(cs []Command) (*Batch, error) {
	if len(cs) == 0 || len(cs) > MaxBatch {
		return nil, fmt.Errorf("fsm: a batch holds 1 to %d commands, not %d", MaxBatch, len(cs))
	}
	b := &Batch{Entries: make([][]byte, len(cs)), commands: cs}
	for i, c := range cs {
		if _, nested := c.(*Batch); nested {
			return nil, errors.New("fsm: a batch cannot hold a batch")
		}
		data, err := Encode(c)
		if err != nil {
			return nil, err
		}
		b.Entries[i] = data
	}
	return b, nil
}

// Commands returns the batch's commands in order; an ignorable type
// unknown to this build is nil. The slice must not be modified.
func (b *Batch) Commands() []Command { return b.commands }

// decodeEntries decodes Entries into commands. An ignorable type unknown to
// this build is kept as nil, as Apply expects.
func (b *Batch) decodeEntries() error {
	if len(b.Entries) == 0 || len(b.Entries) > MaxBatch {
		return fmt.Errorf("batch of %d commands, want 1 to %d", len(b.Entries), MaxBatch)
	}
	b.commands = make([]Command, len(b.Entries))
	for i, e := range b.Entries {
		if len(e) > 0 && Type(e[0]) == TypeBatch {
			return fmt.Errorf("batch command %d is a batch", i)
		}
		c, err := Decode(e)
		if err != nil {
			return fmt.Errorf("batch command %d: %w", i, err)
		}
		b.commands[i] = c
	}
	return nil
}

// Type implementations.
func (*CreateToken) Type() Type { return TypeCreateToken }
func (*Refresh) Type() Type     { return TypeRefresh }
func (*Invalidate) Type() Type  { return TypeInvalidate }
func (*Purge) Type() Type       { return TypePurge }
func (*PutUser) Type() Type     { return TypePutUser }
func (*DeleteUser) Type() Type  { return TypeDeleteUser }
func (*SetPassword) Type() Type { return TypeSetPassword }
func (*SetEnabled) Type() Type  { return TypeSetEnabled }
func (*SetNode) Type() Type     { return TypeSetNode }
func (*InitCluster) Type() Type { return TypeInitCluster }
func (*Batch) Type() Type       { return TypeBatch }
func (*PutRole) Type() Type     { return TypePutRole }
func (*DeleteRole) Type() Type  { return TypeDeleteRole }

// Header returns the command's Meta.
func (m *Meta) Header() *Meta { return m }

// newCommand returns an empty command of type t, or nil if t is unknown.
func newCommand(t Type) Command {
	switch t {
	case TypeCreateToken:
		return &CreateToken{}
	case TypeRefresh:
		return &Refresh{}
	case TypeInvalidate:
		return &Invalidate{}
	case TypePurge:
		return &Purge{}
	case TypePutUser:
		return &PutUser{}
	case TypeDeleteUser:
		return &DeleteUser{}
	case TypeSetPassword:
		return &SetPassword{}
	case TypeSetEnabled:
		return &SetEnabled{}
	case TypeSetNode:
		return &SetNode{}
	case TypeInitCluster:
		return &InitCluster{}
	case TypeBatch:
		return &Batch{}
	case TypeCreateEnrollment:
		return &CreateEnrollment{}
	case TypeConsumeEnrollment:
		return &ConsumeEnrollment{}
	case TypePutRole:
		return &PutRole{}
	case TypeDeleteRole:
		return &DeleteRole{}
	}
	return nil
}

// Encode returns the log entry for c: [type][format version][msgpack body].
func Encode(c Command) ([]byte, error) {
	body, err := msgpack.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("fsm: encode %T: %w", c, err)
	}
	return append([]byte{byte(c.Type()), FormatVersion}, body...), nil
}

// Decode parses a log entry written by Encode. It returns (nil, nil) for an
// unknown command type marked ignorable.
func Decode(data []byte) (Command, error) {
	if len(data) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrMalformed, len(data))
	}
	t, version := Type(data[0]), data[1]
	c := newCommand(t)
	if c == nil {
		if t&IgnorableFlag != 0 {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: %d", ErrUnknownCommand, t)
	}
	if version != FormatVersion {
		return nil, fmt.Errorf("%w: type %d has format version %d, want %d", ErrMalformed, t, version, FormatVersion)
	}
	if err := unmarshal(data[2:], c); err != nil {
		return nil, fmt.Errorf("%w: type %d: %v", ErrMalformed, t, err)
	}
	if b, ok := c.(*Batch); ok {
		if err := b.decodeEntries(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	return c, nil
}
