package cluster

// WarnEvenVoters logs, on the leader, when the configuration holds an even
// number of voters (two or more): such a cluster needs as many voters for a
// quorum as one with a voter more, so it tolerates no more failures, and a
// split into halves leaves neither side a quorum. It logs once per change
// of the count, not every round.
func (m *Members) WarnEvenVoters() {
	servers, err := m.node.Servers()
	if err != nil {
		return
	}
	voters := 0
	for _, srv := range servers {
		if srv.Voter {
			voters++
		}
	}
	if last := m.warnedVoters.Swap(int64(voters)); last == int64(voters) || voters < 2 || voters%2 != 0 {
		return
	}
	m.log.Warn("the cluster has an even number of voters: it tolerates no more failed voters than one with a voter fewer; "+
		"add or remove a voter (an odd number, 3 or 5, is best)", "voters", voters, "quorum", voters/2+1)
}
