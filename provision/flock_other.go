//go:build !unix

package provision

import "context"

// lockFile is a no-op where flock(2) does not exist: mtprep's fleet runs
// on Linux; elsewhere two runs sharing a work directory are not
// coordinated.
func lockFile(ctx context.Context, path string) (func(), error) { return func() {}, ctx.Err() }
