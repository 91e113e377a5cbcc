package warden

import "testing"

// TestReasonsMatchTable checks that Reasons lists exactly the refusals of
// reasonTable plus ReasonOK, so REASONS.md, metrics and the table agree.
func TestReasonsMatchTable(t *testing.T) {
	seen := map[Reason]bool{}
	for _, r := range allReasons {
		if seen[r] {
			t.Errorf("%q listed twice", r)
		}
		seen[r] = true
		if _, ok := reasonTable[r]; !ok && r != ReasonOK {
			t.Errorf("%q is listed but has no reasonTable entry", r)
		}
	}
	for r := range reasonTable {
		if !seen[r] {
			t.Errorf("%q is in reasonTable but not in allReasons", r)
		}
	}
}
