// Package e2e runs `mtprep build` end to end in the lab (package
// internal/lab): the real CLI binary against vcsim, a guest with a real
// sshd, the lab's repositories, agent stand-in and configuration server,
// with the lab's install stand-in (Lab.WatchInstalls) playing anaconda when
// the VM powers on with its ISO.
//
// The tests need root, Linux and the Debian packages in .ci/apt-packages.d;
// where the lab cannot start they skip, except under CI=true, where that
// is a failure.
package e2e
