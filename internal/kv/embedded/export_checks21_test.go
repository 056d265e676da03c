package embedded

import "testing"

// LowLimitsForTest lowers the limits of what the log holds (limitLength, limitMembers,
// limitRecord) for t, for the tests of package embedded_test; they must not run in parallel.
func LowLimitsForTest(t *testing.T, length, members uint64, record int64) {
	lowLimits20(t, length, members, record)
}
