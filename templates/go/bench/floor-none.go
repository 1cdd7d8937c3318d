package main

import (
	"net/http"
	"os"
	"time"
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(0) // the image's HEALTHCHECK
	}
	http.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{\"status\":\"ok\"}\n"))
	})
	srv := &http.Server{
		Addr: ":" + os.Getenv("PORT"), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, IdleTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10,
	}
	_ = srv.ListenAndServe()
}
