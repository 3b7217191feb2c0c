//go:build !unix

package files

import "context"

// Lock is a no-op where flock(2) does not exist: mtprep's fleet runs
// on Linux; elsewhere two runs sharing a work directory are not
// coordinated.
func Lock(ctx context.Context, path string) (func(), error) { return func() {}, ctx.Err() }
