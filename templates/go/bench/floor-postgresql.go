package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

func main() {
	if len(os.Args) > 1 {
		os.Exit(0) // the image's HEALTHCHECK
	}
	secret, _ := os.ReadFile(os.Getenv("DB_PASSWORD_FILE"))
	dsn := fmt.Sprintf("host=%s port=%s dbname=%s user=%s password=%s", os.Getenv("DB_HOST"),
		os.Getenv("DB_PORT"), os.Getenv("DB_NAME"), os.Getenv("DB_USER"), strings.TrimSpace(string(secret)))
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		panic(err)
	}
	if _, err = pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text NOT NULL)"); err != nil {
		panic(err)
	}
	_, _ = pool.Exec(ctx, "INSERT INTO items (name) SELECT 'floor' WHERE NOT EXISTS (SELECT 1 FROM items)")
	http.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte("{\"status\":\"ok\"}\n"))
	})
	http.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		var name string
		if err := pool.QueryRow(r.Context(), "SELECT name FROM items WHERE id = $1", id).Scan(&name); err != nil {
			http.Error(w, "{}", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "name": name})
	})
	srv := &http.Server{
		Addr: ":" + os.Getenv("PORT"), ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, IdleTimeout: 5 * time.Second, MaxHeaderBytes: 16 << 10,
	}
	_ = srv.ListenAndServe()
}
