//go:build !linux

package images

import "os"

// kernelCopy is Linux-only; elsewhere every copy goes through a buffer.
func kernelCopy(_ *os.File, _ int64, _ *os.File, _, _ int64) (int64, error) {
	return 0, errNoKernelCopy
}

// startWriteback is a Linux optimisation; elsewhere the final fsync does
// all the work.
func startWriteback(*os.File, int64, int64) {}
