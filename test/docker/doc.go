// Package docker tests tokend as the container deployment runs it: it builds
// the FROM-scratch image with scripts/docker-build.sh, starts the three-node
// cluster of deploy/docker-compose.yml under a unique docker-compose project
// on free loopback ports, and checks that tokens issued on one container
// authenticate on another while a follower is stopped and while the leader is
// killed, and on the stopped node once it is started again. The tests skip
// when docker, its engine or docker-compose is missing, and under -short.
package docker
