// Package jwks holds the verification keys of token issuers: JWK Set
// parsing, static sets, and remote sets found by discovery, fetched over
// HTTP, cached as immutable snapshots and refreshed ahead of expiry, on
// rotation and after failures.
//
// It imports nothing of warden and knows nothing of requests, reasons or
// warden's Config: warden asks a Source for the key of a token header and
// converts what it answers at the boundary.
//
// # Concurrency
//
// Everything a request touches is lock-free or takes one short lock:
//
//   - A Remote's keys are an immutable *Set behind an atomic pointer (the
//     snapshot). A known kid costs an atomic load and a map lookup, and never
//     waits. A Set is never modified once published.
//   - At most one refresh runs per Remote at a time (Remote.inflight, under
//     Remote.mu). Requests that need it join it; none starts a second.
//   - A request waits for a refresh only when the snapshot cannot answer it
//     (an unknown kid, or no usable set), and then at most UnknownKIDWait,
//     however long the fetch takes. Refreshes triggered by unknown kids are
//     limited to one per UnknownKIDInterval; kids still unknown after a
//     successful refresh are remembered (memo) until the interval passes.
//   - The schedule (Remote.due, UnixNano on the injected clock) is an atomic
//     that requests compare with the clock, so refresh-ahead works with a
//     test clock too; a background loop does the same while no request
//     arrives.
//   - Remote.mu guards the inflight call, the memo, the failure count and
//     the log state; it is never held across I/O.
//   - The jwks URL found by discovery is touched only by refreshes, which
//     never overlap.
//   - Close stops the loop and any running refresh and waits for them; a
//     closed Remote keeps serving the keys it holds.
//   - A Registry counts the callers holding each source (Source to its
//     release, under Registry.mu): eviction takes a held source out of the
//     registry at once but closes it only at its last release, so no lookup
//     runs on a source closed under it; the source being created is never
//     the one evicted.
package jwks
