package provision

import "context"

// Provenance is vSphere's proof, or its absence, that nothing has written
// to the retention disk since mtprep created it blank (issue 13). Only a
// proven disk may be formatted without a full read of every byte.
type Provenance struct {
	Proven bool
	// Why says which rule applies, in the user's terms: the proof that
	// holds, or why there is none ("no record: the disk was not created
	// by mtprep", "contentId changed since creation").
	Why string
}

// retentionProvenance reads the proof for the retention disk. Until the
// vm phase records one, no disk is proven: every blank-looking disk is
// read in full before it is formatted.
func (t *Target) retentionProvenance(ctx context.Context, wwid string) (Provenance, error) {
	return Provenance{Why: "no provenance record: mtprep did not record creating this disk blank"}, nil
}
