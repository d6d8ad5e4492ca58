// Command barehttp is the HTTP ceiling tokend's reads are compared with: an
// httprouter handler on GET /_security/_authenticate that does no work and
// answers a fixed 200 with a JSON body the size of tokend's authenticate
// answer, served by net/http as tokend is.
//
// Usage:
//
//	barehttp -addr 127.0.0.1:PORT
//
// It serves until interrupted or terminated.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/julienschmidt/httprouter"
)

// body has the shape and about the size of tokend's authenticate answer.
const body = `{"username":"elastic","roles":["superuser"],"full_name":null,"email":null,"metadata":{},"enabled":true,` +
	`"authentication_realm":{"name":"reserved","type":"reserved"},"lookup_realm":{"name":"reserved","type":"reserved"},` +
	`"authentication_type":"token"}`

func main() {
	addr := flag.String("addr", "127.0.0.1:9290", "listen address")
	flag.Parse()
	rt := httprouter.New()
	length := strconv.Itoa(len(body))
	rt.GET("/_security/_authenticate", func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{length}
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(body))
	})
	srv := &http.Server{Addr: *addr, Handler: rt}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "barehttp:", err)
		os.Exit(1)
	}
}
