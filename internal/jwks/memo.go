package jwks

import (
	"hash/maphash"
	"time"
)

// maxUnknownKIDs bounds the memory of kids found unknown after a refresh.
const maxUnknownKIDs = 4096

// kidMemo is the negative cache of a Remote: kids still unknown after a
// refresh, until a deadline. Kids are stored as seeded hashes, so a flood
// of 8 KiB kids costs 16 bytes each, and the memo never holds more than
// maxUnknownKIDs entries. A hash collision can only make a new kid wait for
// the next interval, never accept a token. Callers hold the Remote's lock.
type kidMemo struct {
	seed  maphash.Seed
	until map[uint64]time.Time
}

func newKIDMemo() *kidMemo {
	return &kidMemo{seed: maphash.MakeSeed(), until: make(map[uint64]time.Time)}
}

// has reports whether kid was remembered as unknown and still is at now.
func (m *kidMemo) has(kid string, now time.Time) bool {
	until, ok := m.until[maphash.String(m.seed, kid)]
	return ok && now.Before(until)
}

// add remembers kid as unknown until the deadline. When the memo is full it
// drops expired entries first, and if it is still full it forgets the kid:
// the per-interval refresh limit still holds without it.
func (m *kidMemo) add(kid string, now, until time.Time) {
	if len(m.until) >= maxUnknownKIDs {
		for h, t := range m.until {
			if !now.Before(t) {
				delete(m.until, h)
			}
		}
		if len(m.until) >= maxUnknownKIDs {
			return
		}
	}
	m.until[maphash.String(m.seed, kid)] = until
}
