package audit

import "github.com/tokend/tokend/fsm"

// Log event actions.
const (
	ActionTokenCreated     = "token_created"
	ActionTokenRefreshed   = "token_refreshed"
	ActionTokensInvalidate = "tokens_invalidated"
	ActionReplayRevoked    = "refresh_replay_revoked"
	ActionUserCreated      = "user_created"
	ActionUserChanged      = "user_changed"
	ActionUserDeleted      = "user_deleted"
	ActionRoleCreated      = "role_created"
	ActionRoleChanged      = "role_changed"
	ActionRoleDeleted      = "role_deleted"
	ActionMemberJoined     = "member_joined"
	ActionMemberRemoved    = "member_removed"
	ActionSnapshotRestored = "snapshot_restored"
)

// invalidateBy names the invalidation selectors as the API's body does.
var invalidateBy = map[fsm.InvalidateBy]string{
	fsm.ByAccessToken:  "token",
	fsm.ByRefreshToken: "refresh_token",
	fsm.ByUser:         "username",
	fsm.ByRealm:        "realm_name",
}

// LogEvents returns the events of the log entry at index: command c, which
// Apply answered with r at the log's time at (Unix ms). It is a pure
// function of the entry and its result, so every node derives the same
// events. A command whose request ID was applied before gives none.
// Commands that changed nothing a reader of the trail cares about
// (refused, purges, the cluster's identity) give none.
func LogEvents(index uint64, c fsm.Command, r fsm.Result, at int64) []Event {
	if b, ok := c.(*fsm.Batch); ok {
		var out []Event
		for i, sub := range b.Commands() {
			if sub != nil && i < len(r.Results) {
				out = append(out, LogEvents(index, sub, r.Results[i], at)...)
			}
		}
		return out
	}
	if r.Repeated {
		return nil // a retried proposal: its first entry had the events
	}
	e := Event{Timestamp: StampMillis(at), Type: TypeLog, Index: index}
	switch c := c.(type) {
	case *fsm.CreateToken:
		if r.Status != fsm.OK {
			return nil
		}
		e.Action, e.UserName, e.UserRealm, e.Client = ActionTokenCreated, c.User, c.Realm.Name, c.Client
		e.GrantType = "password"
		if c.Refresh.IsZero() {
			e.GrantType = "client_credentials"
		}
	case *fsm.Refresh:
		switch r.Status {
		case fsm.OK:
			e.Action = ActionTokenRefreshed
		case fsm.Reused:
			e.Action, e.Tokens = ActionReplayRevoked, count(r.Revoked)
		default:
			return nil
		}
		e.UserName, e.UserRealm, e.Client = r.User, r.Realm.Name, c.Client
	case *fsm.Invalidate:
		e.Action, e.By, e.Tokens = ActionTokensInvalidate, invalidateBy[c.By], count(r.Invalidated)
		e.UserName, e.UserRealm = c.Username, c.Realm
		if r.User != "" {
			e.UserName, e.UserRealm = r.User, r.Realm.Name
		}
	case *fsm.PutUser:
		e.Action, e.UserName, e.UserRealm = ActionUserChanged, c.User.Username, c.User.Realm.Name
		if r.Created {
			e.Action = ActionUserCreated
		}
		if r.Invalidated > 0 {
			e.Tokens = count(r.Invalidated)
		}
	case *fsm.SetPassword:
		if r.Status != fsm.OK {
			return nil
		}
		e.Action, e.UserName, e.Reason = ActionUserChanged, c.Username, "password"
	case *fsm.SetEnabled:
		if r.Status != fsm.OK {
			return nil
		}
		e.Action, e.UserName, e.Reason = ActionUserChanged, c.Username, "disabled"
		if c.Enabled {
			e.Reason = "enabled"
		} else {
			e.Tokens = count(r.Invalidated)
		}
	case *fsm.DeleteUser:
		if r.Status != fsm.OK {
			return nil
		}
		e.Action, e.UserName, e.Tokens = ActionUserDeleted, c.Username, count(r.Invalidated)
	case *fsm.PutRole:
		e.Action, e.Role = ActionRoleChanged, c.Role.Name
		if r.Created {
			e.Action = ActionRoleCreated
		}
	case *fsm.DeleteRole:
		if r.Status != fsm.OK {
			return nil
		}
		e.Action, e.Role = ActionRoleDeleted, c.Name
	case *fsm.SetNode:
		e.Action, e.Member = ActionMemberJoined, c.NodeID
		if c.HTTPAddr == "" {
			e.Action = ActionMemberRemoved
		}
	default:
		return nil
	}
	return []Event{e}
}

// count returns a pointer to n, so that a count of zero is still written.
func count(n int) *int { return &n }
