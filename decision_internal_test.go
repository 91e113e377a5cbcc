package warden

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestReasonsMatchTable checks that Reasons lists exactly the refusals of
// reasonTable plus ReasonOK, so REASONS.md, metrics and the table agree.
func TestReasonsMatchTable(t *testing.T) {
	t.Parallel()
	seen := map[Reason]bool{}
	for _, r := range allReasons {
		assert.False(t, seen[r], "%q listed twice", r)
		seen[r] = true
		if r != ReasonOK {
			assert.Contains(t, reasonTable, r, "%q is listed but has no reasonTable entry", r)
		}
	}
	for r := range reasonTable {
		assert.True(t, seen[r], "%q is in reasonTable but not in allReasons", r)
	}
}
