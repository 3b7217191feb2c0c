package spec

import "testing"

// TestExamples: the files in examples/ that README points users to load
// and validate as they are.
func TestExamples(t *testing.T) {
	if _, err := LoadInventory("../../examples/fleet.yaml"); err != nil {
		t.Fatalf("examples/fleet.yaml: %v", err)
	}
	if _, err := Load("../../examples/mt01.yaml"); err != nil {
		t.Fatalf("examples/mt01.yaml: %v", err)
	}
}
