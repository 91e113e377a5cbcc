package main

import (
	"fmt"
	"io"
	"time"

	"github.com/wardenhq/warden/clientstore"
	"github.com/wardenhq/warden/wardentest"
)

// demoClient is one of the fixed, documented demo credentials. They are
// public: demo mode is for a laptop, never for a network others can reach.
type demoClient struct {
	id, secret string
	// secretHash is a bcrypt hash of secret at the minimum cost (4): the
	// secret is published, so a slow hash would protect nothing and only
	// slow every Basic request. Hash real secrets with clientstore.Hash.
	secretHash string
	scopes     []string
	mayActAs   map[string][]string
	opaque     bool // the token endpoint issues it opaque tokens, which warden introspects
}

var demoClients = []demoClient{
	{id: "demo-reader", secret: "demo-reader-secret",
		secretHash: "$2a$04$IEtsm0yXfGZyfePCpQPlU.vfPUfxtbqBRCDdUeAHKLOKKm8Wd0jAS",
		scopes:     []string{"Entry_Read", "ContentType_Read"}},
	{id: "demo-writer", secret: "demo-writer-secret",
		secretHash: "$2a$04$DJ2nq0h50GqQpuU3WR1a2O5slYgM3WA/WKXxoazvzl8rYZ12BaYHi",
		scopes:     []string{"Entry_Read", "Entry_Write", "ContentType_Read"}},
	{id: "demo-directory", secret: "demo-directory-secret",
		secretHash: "$2a$04$yA5SydHhPcUI.6vsa1AHOuJ9RfGvNdg8zYJdc8Trzxq1A.UBfD0Ni",
		scopes:     []string{"Organisation_Read"}},
	{id: "demo-analyst", secret: "demo-analyst-secret",
		secretHash: "$2a$04$2aJJY57/2mtk4uPq8eNjDeK5Q.xOm5S3s2XdpVOTlUqSqY6bV2VZG",
		scopes:     []string{"Entry_Read", "Report_Read", "Project_Read", "tool:summarise"}},
	{id: "demo-auditor", secret: "demo-auditor-secret",
		secretHash: "$2a$04$z63/3mMgbr1Kzbg0.LgPYuzBHtRIwTHtM7EAbOR5y5pMNEKUFHeOS",
		scopes:     []string{"Report_Admin"}},
	{id: "demo-impersonator", secret: "demo-impersonator-secret",
		secretHash: "$2a$04$GLnIO9HHCYCu1HHM6xVdxeByW7j4BWliNIHnNm1yjQughCMxl/VCu",
		mayActAs: map[string][]string{
			"alice": {"Entry_Read"},
			"bob":   {"Entry_Read", "Entry_Write"},
		}},
	{id: "demo-opaque", secret: "demo-opaque-secret",
		secretHash: "$2a$04$LskRi5fReBtsiGFMTZO/eewLNCgXtTpatvCEmDbhubyOgLF9Vv64y",
		scopes:     []string{"Entry_Read", "ContentType_Read"}, opaque: true},
}

// demoBasicClients are the clients /whoami and /organisations accept with
// HTTP Basic unless -basic-clients names a file.
func demoBasicClients() []clientstore.Client {
	out := make([]clientstore.Client, 0, len(demoClients))
	for _, c := range demoClients {
		out = append(out, clientstore.Client{ID: c.id, SecretHash: c.secretHash, Scopes: c.scopes})
	}
	return out
}

// demoIntrospectionClient is the client id warden introspects with at the
// demo issuer; its secret is drawn at random at start-up, since no one
// else needs it.
const demoIntrospectionClient = "demo-resource-server"

// newDemoIssuer returns the development issuer served at baseURL, with the
// demo clients registered at its token endpoint, and warden's own
// introspection client with secret introspectionSecret.
func newDemoIssuer(baseURL, audience, introspectionSecret string) *wardentest.Issuer {
	iss := wardentest.NewIssuerAt(baseURL)
	iss.Audience = audience
	for _, c := range demoClients {
		iss.AddClient(wardentest.Client{ID: c.id, Secret: c.secret, Scopes: c.scopes, MayActAs: c.mayActAs, Opaque: c.opaque})
	}
	iss.AddClient(wardentest.Client{ID: demoIntrospectionClient, Secret: introspectionSecret})
	return iss
}

// printDemo prints the demo credentials and commands to try them.
func printDemo(w io.Writer, base, audience string, cacheTTL time.Duration) {
	fmt.Fprintf(w, `warden demo: a protected API and a development issuer on %[1]s
  issuer    %[1]s  (discovery %[1]s/.well-known/openid-configuration)
  audience  %[2]s

demo clients (token endpoint POST %[1]s/oauth/token; secrets in Basic or in the body):
  demo-reader        demo-reader-secret        Entry_Read ContentType_Read
  demo-writer        demo-writer-secret        Entry_Read Entry_Write ContentType_Read
  demo-analyst       demo-analyst-secret       Entry_Read Report_Read Project_Read tool:summarise
  demo-auditor       demo-auditor-secret       Report_Admin
  demo-directory     demo-directory-secret     Organisation_Read (HTTP Basic on /organisations)
  demo-impersonator  demo-impersonator-secret  act_as alice (Entry_Read) or bob (Entry_Read Entry_Write)
  demo-opaque        demo-opaque-secret        Entry_Read ContentType_Read, as an opaque token (RFC 7662 introspection)

routes and who passes:
  GET  /entries         Entry_Read                            reader, writer, analyst; not auditor
  POST /entries         Entry_Write                           writer, impersonator as bob; not reader
  GET  /projects        Project_Read or Project_Admin         analyst; not reader
  GET  /reports         Entry_Read and (Report_Read or Report_Admin)
                                                              analyst; not reader (no Report_*), not auditor (no Entry_Read)
  POST /tools/{name}    tool:{name}, checked in the handler   analyst may summarise, not export; reader neither
                        (tools: summarise, export)
  GET  /organisations   Organisation_Read, HTTP Basic only    demo-directory
  GET  /whoami          any valid Bearer token or Basic client

try:
  TOKEN=$(curl -s -u demo-reader:demo-reader-secret -d grant_type=client_credentials %[1]s/oauth/token | %[3]s)
  curl -i -H "Authorization: Bearer $TOKEN" %[1]s/entries             # 200
  curl -i %[1]s/entries                                                # 401, Bearer and DPoP challenges
  curl -i -X POST -H "Authorization: Bearer $TOKEN" %[1]s/entries     # 403: the token is read-only
  curl -i -H "Authorization: Bearer $TOKEN" %[1]s/reports             # 403, scope="Entry_Read Report_Read Report_Admin"
  ANALYST=$(curl -s -u demo-analyst:demo-analyst-secret -d grant_type=client_credentials %[1]s/oauth/token | %[3]s)
  curl -i -H "Authorization: Bearer $ANALYST" %[1]s/reports           # 200
  curl -i -H "Authorization: Bearer $ANALYST" %[1]s/projects          # 200
  curl -i -X POST -H "Authorization: Bearer $ANALYST" %[1]s/tools/summarise  # 200
  curl -i -X POST -H "Authorization: Bearer $ANALYST" %[1]s/tools/export     # 403, scope="tool:export"
  curl -i -u demo-directory:demo-directory-secret %[1]s/organisations  # 200 with HTTP Basic
  BOB=$(curl -s -u demo-impersonator:demo-impersonator-secret -d grant_type=client_credentials -d act_as=bob %[1]s/oauth/token | %[3]s)
  curl -s -H "Authorization: Bearer $BOB" %[1]s/whoami                 # bob, acted for by demo-impersonator
  OPAQUE=$(curl -s -u demo-opaque:demo-opaque-secret -d grant_type=client_credentials %[1]s/oauth/token | %[3]s)
  curl -i -H "Authorization: Bearer $OPAQUE" %[1]s/entries            # 200: an opaque token, introspected once, then cached
  curl -i -X POST -H "Authorization: Bearer $OPAQUE" %[1]s/entries    # 403: the same scope rules as for a JWT
  curl -s -u demo-opaque:demo-opaque-secret -d token=$OPAQUE %[1]s/oauth/revoke  # revoke it (RFC 7009)
  curl -i -H "Authorization: Bearer $OPAQUE" %[1]s/entries            # 401 once the cached answer is older than %[4]s

`, base, audience, extractToken, cacheTTL)
}

// extractToken pulls access_token out of a token response with sed, so the
// commands need nothing but curl and a POSIX shell.
const extractToken = `sed -E 's/.*"access_token":"([^"]+)".*/\1/'`
