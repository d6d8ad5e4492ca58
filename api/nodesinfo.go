package api

import (
	"net"
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// actionNodesInfo is named in 403 answers of GET /_nodes/http.
const actionNodesInfo = "cluster:monitor/nodes/info"

// nodeInfoHTTP is the http section of a node in Elasticsearch's nodes info.
type nodeInfoHTTP struct {
	BoundAddress      []string `json:"bound_address"`
	PublishAddress    string   `json:"publish_address"`
	MaxContentLengthB int64    `json:"max_content_length_in_bytes"`
}

// nodeInfo is one member in Elasticsearch's nodes info answer: what the
// official clients read when they sniff (http.publish_address, roles).
type nodeInfo struct {
	Name             string       `json:"name"`
	TransportAddress string       `json:"transport_address"`
	Host             string       `json:"host"`
	IP               string       `json:"ip"`
	Version          string       `json:"version"`
	BuildFlavor      string       `json:"build_flavor"`
	BuildType        string       `json:"build_type"`
	Roles            []string     `json:"roles"`
	HTTP             nodeInfoHTTP `json:"http"`
}

// Roles reported for members: voters are master-eligible and serve reads,
// non-voters (read replicas, nodes catching up) serve reads only. The
// official clients skip master-only nodes when sniffing, never these.
var (
	voterRoles    = []string{"data", "ingest", "master"}
	nonVoterRoles = []string{"data", "ingest"}
)

// nodesHTTP serves GET /_nodes/http and /_nodes/_all/http: every member of
// the configuration whose HTTP address the state holds, replicas included,
// so that clients which sniff spread their requests over the cluster.
// httprouter cannot tell /_nodes/http from /_nodes/{nodes}/http by route,
// so both arrive here as one or two parameters.
func (s *clusterRoutes) nodesHTTP(w http.ResponseWriter, r *http.Request, p httprouter.Params) error {
	if _, err := s.gate.authorize(r, actionNodesInfo, privMonitor); err != nil {
		return err
	}
	selector, metric := "_all", p.ByName("first")
	if second := p.ByName("second"); second != "" {
		selector, metric = metric, second
	}
	if selector != "_all" || metric != "http" {
		return illegalArgument("tokend serves nodes info as /_nodes/http or /_nodes/_all/http only")
	}
	servers, err := s.node.Servers()
	if err != nil {
		return fromNode(err)
	}
	nodes := map[string]nodeInfo{}
	for _, srv := range servers {
		addr, ok := s.state.NodeAddr(srv.ID)
		if !ok || addr == "" {
			continue
		}
		host, _, _ := net.SplitHostPort(addr)
		roles := nonVoterRoles
		if srv.Voter {
			roles = voterRoles
		}
		nodes[srv.ID] = nodeInfo{Name: srv.ID, TransportAddress: srv.Address, Host: host, IP: host,
			Version: s.cfg.Version, BuildFlavor: "default", BuildType: "tokend", Roles: roles,
			HTTP: nodeInfoHTTP{BoundAddress: []string{addr}, PublishAddress: addr, MaxContentLengthB: maxBodyBytes}}
	}
	writeJSON(w, r, http.StatusOK, map[string]any{
		"_nodes":       map[string]int{"total": len(nodes), "successful": len(nodes), "failed": 0},
		"cluster_name": s.cfg.ClusterName,
		"nodes":        nodes,
	})
	return nil
}
