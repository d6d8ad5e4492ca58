// Package e2e tests tokend as its users run it: real tokend processes built
// from cmd/tokend, on 127.0.0.1 ports, driven over HTTP by curl-like requests
// and by the official Elasticsearch Go client.
package e2e
