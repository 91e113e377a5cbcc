package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync"

	"github.com/wardenhq/warden"
)

// routes registers the API on mux. Each route states the credentials it
// takes and the scopes it needs; the handlers themselves never check either.
func routes(mux *http.ServeMux, mw *warden.Middleware) {
	entries := &entryStore{entries: []entry{{ID: 1, Title: "Hello, warden"}}}
	both := mw.Accept(warden.SchemeBearer, warden.SchemeBasic)
	basic := mw.Accept(warden.SchemeBasic)

	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", mw.ReadyHandler()) // 503 until the issuer's keys are usable
	mux.Handle("GET /entries", mw.Require("Entry_Read")(http.HandlerFunc(entries.list)))
	mux.Handle("POST /entries", mw.Require("Entry_Write")(http.HandlerFunc(entries.create)))
	mux.Handle("GET /contenttypes", mw.Require("ContentType_Read")(fixed(contentTypes)))
	mux.Handle("GET /projects", mw.RequireAny("Project_Read", "Project_Admin")(fixed(projects)))
	mux.Handle("GET /whoami", both.Authenticate(http.HandlerFunc(whoami)))
	mux.Handle("GET /organisations", basic.Require("Organisation_Read")(fixed(organisations)))
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// whoami shows the principal warden authenticated: the subject, the client,
// the scopes, the scheme and, for impersonation, the actor.
func whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := warden.PrincipalFrom(r.Context())
	writeJSON(w, http.StatusOK, p)
}

type entry struct {
	ID    int    `json:"id"`
	Title string `json:"title"`
	// CreatedBy is the subject that created the entry; the client acting
	// for it, if any, is in ActingClient.
	CreatedBy    string `json:"created_by,omitempty"`
	ActingClient string `json:"acting_client,omitempty"`
}

// entryStore is the demo's in-memory data, bounded so the demo cannot be
// made to grow without limit.
type entryStore struct {
	mu      sync.Mutex
	entries []entry
}

const maxEntries = 1000

func (s *entryStore) list(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.entries)
}

func (s *entryStore) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Title string `json:"title"`
	}
	err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&in)
	if err != nil && !errors.Is(err, io.EOF) { // an empty body is an untitled entry
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be a JSON object"})
		return
	}
	p, _ := warden.PrincipalFrom(r.Context())
	e := entry{Title: in.Title, CreatedBy: p.Subject()}
	if a := p.Actor(); a != nil {
		e.ActingClient = a.Subject
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.entries) >= maxEntries {
		writeJSON(w, http.StatusInsufficientStorage, map[string]string{"error": "the demo store is full"})
		return
	}
	e.ID = len(s.entries) + 1
	s.entries = append(s.entries, e)
	writeJSON(w, http.StatusCreated, e)
}

var (
	contentTypes  = []map[string]string{{"id": "blogPost", "name": "Blog post"}, {"id": "author", "name": "Author"}}
	projects      = []map[string]string{{"id": "website", "name": "Website"}}
	organisations = []map[string]string{{"id": "org-1", "name": "Example Organisation"}}
)

// fixed serves a constant JSON document.
func fixed(v any) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, v) })
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
