// Package layers holds no code: its test checks the import rules of the
// layering in DESIGN.md and docs/ARCHITECTURE.md (spec at the bottom, the
// vSphere driver beside it, OS packages never reaching into provision or
// govmomi, provision never reaching into an OS package), so that a
// forbidden import fails `make test` instead of waiting for a review.
package layers
