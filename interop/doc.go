// Package interop tests warden against independently written servers it
// must work with: an authorization server that introspects and revokes
// opaque tokens (oidc-provider, on Node), and a real redis-server holding
// the revocation deny-list of a fleet of replicas. Each test starts and
// stops its server on 127.0.0.1; it skips when the server cannot be had,
// except under CI (CI set), where it fails.
package interop
