package api

import "github.com/tokend/tokend/raftnode"

// raftnode.Node is the Node the API runs on in production.
var _ Node = (*raftnode.Node)(nil)
