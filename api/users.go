package api

import (
	"context"
	"fmt"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/tokend/tokend/fsm"
)

// Elasticsearch action names of the user API, named in 403 answers.
const (
	actionPutUser        = "cluster:admin/xpack/security/user/put"
	actionGetUsers       = "cluster:admin/xpack/security/user/get"
	actionDeleteUser     = "cluster:admin/xpack/security/user/delete"
	actionChangePassword = "cluster:admin/xpack/security/user/change_password"
	actionSetEnabled     = "cluster:admin/xpack/security/user/set_enabled"
)

// selfPassword is the name segment of POST /_security/user/_password, which
// changes the caller's own password.
const selfPassword = "_password"

// empty is the {} answer.
var empty = struct{}{}

// isReserved reports a built-in user, which the native user API may not
// create, replace or delete.
func (s *securityRoutes) isReserved(name string) bool {
	u, ok := s.state.User(name)
	return name == reservedUsername || (ok && u.Realm == fsm.ReservedRealm)
}

// putUser serves PUT|POST /_security/user/{name} (leader).
func (s *securityRoutes) putUser(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
	name := p.ByName("name")
	if name == selfPassword {
		return s.setPassword(w, r, "")
	}
	if _, err := s.gate.authorize(r, actionPutUser, privSuperuser); err != nil {
		return err
	}
	var q putUserRequest
	if err := decodeBody(r, &q); err != nil {
		return err
	}
	// exists only shapes validation; whether to wait for the replicas is
	// decided from the command's result, not from this node's state, which
	// may not have applied a creation that was just committed.
	_, exists := s.state.User(name)
	meta, err := q.validate(name, exists, s.isReserved(name))
	if err != nil {
		return err
	}
	hash, err := q.hash()
	if err != nil {
		return err
	}
	u := fsm.User{Username: name, Hash: hash, Roles: q.Roles, Metadata: meta, Enabled: q.Enabled == nil || *q.Enabled,
		Realm: fsm.NativeRealm}
	if q.FullName != nil {
		u.FullName = *q.FullName
	}
	if q.Email != nil {
		u.Email = *q.Email
	}
	// Disabling a user this way invalidates its tokens too (fsm.PutUser).
	res, index, err := s.commits.propose(r.Context(), w, &fsm.PutUser{User: u})
	if err != nil {
		return err
	}
	if !res.Created { // the update may disable the user or change its password
		s.revocations.Await(r.Context(), index)
	}
	writeJSON(w, r, http.StatusOK, map[string]bool{"created": res.Created})
	return nil
}

// getUsers serves GET /_security/user[/{name[,name...]}].
func (s *securityRoutes) getUsers(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
	if _, err := s.gate.authorize(r, actionGetUsers, privReadSecurity); err != nil {
		return err
	}
	all := func() map[string]userJSON {
		out := map[string]userJSON{}
		for _, u := range s.state.Users() {
			out[u.Username] = userView(u)
		}
		return out
	}
	return writeNamed(w, r, p.ByName("name"), all, func(name string) (userJSON, bool, error) {
		u, err := s.findUser(r.Context(), name)
		switch {
		case err == errNoSuchUser:
			return userJSON{}, false, nil
		case err != nil:
			return userJSON{}, false, err
		}
		return userView(u), true, nil
	})
}

// errNoSuchUser is findUser's answer for an unknown user.
var errNoSuchUser = fmt.Errorf("api: no such user")

// findUser looks a user up, catching up with the leader before calling it
// unknown.
func (s *securityRoutes) findUser(ctx context.Context, name string) (fsm.User, error) {
	if u, ok := s.state.User(name); ok {
		return u, nil
	}
	if err := s.reads.CatchUp(ctx); err != nil {
		return fsm.User{}, err
	}
	if u, ok := s.state.User(name); ok {
		return u, nil
	}
	return fsm.User{}, errNoSuchUser
}

// userNotFound is the 404 for an operation on an unknown user.
func userNotFound(name string) error {
	return notFound(fmt.Sprintf("user [%s] does not exist", echoed(name)))
}

// deleteUser serves DELETE /_security/user/{name} (leader).
func (s *securityRoutes) deleteUser(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
	if _, err := s.gate.authorize(r, actionDeleteUser, privSuperuser); err != nil {
		return err
	}
	name := p.ByName("name")
	if s.isReserved(name) {
		return illegalArgument(fmt.Sprintf("user [%s] is reserved and may not be deleted", echoed(name)))
	}
	return s.deleteNamed(w, r, &fsm.DeleteUser{Username: name})
}

// deleteNamed proposes the deletion of a user or role and answers
// Elasticsearch's {"found": …} (404 when there was none). Found or not
// (deleted by an earlier request), the answer says it is gone, so it waits
// until that holds on every node before it is given.
func (s *securityRoutes) deleteNamed(w http.ResponseWriter, r *http.Request, c fsm.Command) error {
	res, index, err := s.commits.propose(r.Context(), w, c)
	if err != nil {
		return err
	}
	s.revocations.Await(r.Context(), index)
	found, status := res.Status == fsm.OK, http.StatusOK
	if !found {
		status = http.StatusNotFound
	}
	writeJSON(w, r, status, map[string]bool{"found": found})
	return nil
}

// changePassword serves POST|PUT /_security/user/{name}/_password (leader).
func (s *securityRoutes) changePassword(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
	return s.setPassword(w, r, p.ByName("name"))
}

// selfServiceHash refuses a password_hash sent by a user who is not a
// superuser: a ready-made hash would let any user choose the bcrypt cost
// that every later check of its password pays.
const selfServiceHash = "[password_hash] may only be set by a superuser; send [password] to change your own password"

// setPassword changes name's password ("" for the caller's own). Every user
// may change its own password, giving the password itself; others need the
// superuser role, which may also give a bcrypt hash (passwordInput).
func (s *securityRoutes) setPassword(w http.ResponseWriter, r *http.Request, name string) error {
	caller, err := s.gate.authenticate(r)
	if err != nil {
		return err
	}
	if name == "" {
		name = caller.user.Username
	}
	if name != caller.user.Username && !caller.has(privSuperuser) {
		return forbidden(actionChangePassword, caller)
	}
	var q passwordInput
	if err := decodeBody(r, &q); err != nil {
		return err
	}
	if q.PasswordHash != nil && !caller.has(privSuperuser) {
		return validationFailed(selfServiceHash)
	}
	if msgs := q.problems(true, "password must be specified"); len(msgs) > 0 {
		return validationFailed(msgs...)
	}
	if _, err := s.findUser(r.Context(), name); err == errNoSuchUser {
		return userNotFound(name)
	} else if err != nil {
		return err
	}
	hash, err := q.hash()
	if err != nil {
		return err
	}
	res, index, err := s.commits.propose(r.Context(), w, &fsm.SetPassword{Username: name, Hash: hash})
	if err != nil {
		return err
	}
	// A user deleted meanwhile is a revocation too: wait either way.
	s.revocations.Await(r.Context(), index)
	if res.Status == fsm.NotFound {
		return userNotFound(name)
	}
	writeJSON(w, r, http.StatusOK, empty)
	return nil
}

// setEnabled serves PUT|POST /_security/user/{name}/_enable|_disable
// (leader). Disabling invalidates the user's tokens. As in Elasticsearch, a
// user may not change its own enabled status.
func (s *securityRoutes) setEnabled(enabled bool) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
		caller, err := s.gate.authorize(r, actionSetEnabled, privSuperuser)
		if err != nil {
			return err
		}
		name := p.ByName("name")
		if name == caller.user.Username {
			return validationFailed("users may not update the enabled status of their own account")
		}
		res, index, err := s.commits.propose(r.Context(), w, &fsm.SetEnabled{Username: name, Enabled: enabled})
		if err != nil {
			return err
		}
		if !enabled || res.Status == fsm.NotFound { // disabled or deleted, now or before
			s.revocations.Await(r.Context(), index)
		}
		if res.Status == fsm.NotFound {
			return userNotFound(name)
		}
		writeJSON(w, r, http.StatusOK, empty)
		return nil
	}
}
