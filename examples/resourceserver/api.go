package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"sync"

	"github.com/wardenhq/warden"
)

// routes registers the API on mux. Each route states the credentials it
// takes and what it requires; the handlers never check either, except the
// tools endpoint, whose requirement depends on the tool and is checked
// inside the handler as a route would.
func routes(mux *http.ServeMux, mw *warden.Middleware) {
	entries := &entryStore{entries: []entry{{ID: 1, Title: "Hello, warden"}}}
	both := mw.Accept(warden.SchemeBearer, warden.SchemeBasic)
	basic := mw.Accept(warden.SchemeBasic)

	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", mw.ReadyHandler()) // 503 until the issuer's keys are usable
	mux.Handle("GET /entries", mw.Require(warden.Scopes("Entry_Read"))(http.HandlerFunc(entries.list)))
	mux.Handle("POST /entries", mw.Require(warden.Scopes("Entry_Write"))(http.HandlerFunc(entries.create)))
	mux.Handle("GET /contenttypes", mw.Require(warden.Scopes("ContentType_Read"))(fixed(contentTypes)))
	mux.Handle("GET /projects", mw.Require(warden.AnyScope("Project_Read", "Project_Admin"))(fixed(projects)))
	// Composition: Entry_Read and (Report_Read or Report_Admin), one
	// requirement with one decision per request.
	mux.Handle("GET /reports", mw.Require(warden.Scopes("Entry_Read"), warden.AnyScope("Report_Read", "Report_Admin"))(fixed(reports)))
	// One route for every tool; each tool's scope is checked in the handler.
	mux.Handle("POST /tools/{name}", mw.Authenticate(tools(mw, entries)))
	mux.Handle("GET /whoami", both.Authenticate(http.HandlerFunc(whoami)))
	mux.Handle("GET /organisations", basic.Require(warden.Scopes("Organisation_Read"))(fixed(organisations)))
}

// tools runs the tool named in the path, if the principal holds the scope
// tool:{name}. An unknown tool is 404 before any check, so that only
// known names ever appear in a challenge.
func tools(mw *warden.Middleware, entries *entryStore) http.Handler {
	run := map[string]func() any{
		"summarise": func() any { return map[string]int{"entries": entries.count()} },
		"export":    func() any { return entries.snapshot() },
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("name")
		tool, ok := run[name]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such tool"})
			return
		}
		// Refused: the 403 with scope="tool:{name}" (and the decision) a
		// route requiring the scope would have written.
		if !mw.Check(w, r, warden.Scopes("tool:"+name)) {
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"tool": name, "result": tool()})
	})
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
	writeJSON(w, http.StatusOK, s.snapshot())
}

func (s *entryStore) snapshot() []entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.entries)
}

func (s *entryStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.entries)
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
	reports       = []map[string]string{{"id": "weekly", "name": "Entries per week"}}
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
