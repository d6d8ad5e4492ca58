package main

import (
	"fmt"

	"github.com/tokend/tokend/api/audit"
	"github.com/tokend/tokend/raftnode"
)

// openTrail opens the audit trail that cfg names.
func openTrail(cfg Config) (*audit.Trail, error) {
	t, err := audit.Open(audit.Options{
		Path: cfg.AuditFile, MaxSize: cfg.AuditMaxSize, MaxFiles: cfg.AuditMaxFiles,
		Include: cfg.AuditInclude, Exclude: cfg.AuditExclude,
		NodeID: cfg.NodeID, NodeName: cfg.NodeID,
	})
	if err != nil {
		return nil, fmt.Errorf("--audit-file %s: %w", cfg.AuditFile, err)
	}
	return t, nil
}

// observer is what Raft tells of the applied log: the audit trail, or
// nothing.
func (d *daemon) observer() raftnode.Observer {
	if d.trail == nil {
		return nil
	}
	return &audit.Observer{Trail: d.trail, Log: d.log.With("component", "audit")}
}

// closeTrail closes the audit trail, if there is one.
func (d *daemon) closeTrail() error {
	if d.trail == nil {
		return nil
	}
	if err := d.trail.Close(); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}
