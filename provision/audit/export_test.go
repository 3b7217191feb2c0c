package audit

// For the external tests (package audit_test), which build MTs through
// provision's phases.
var (
	CheckFindingShape = checkFindingShape
	VSphereCheckIDs   = func() []string { return checkIDs(vsphereChecks()) }
)
