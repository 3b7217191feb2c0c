// Package packages owns the RPMs a CentOS 6.6 master target needs: the
// manifest of names and minimum versions, version comparison, and the
// offline bundle (RPMs plus a SHA256SUMS manifest) for MTs with no
// internet access.
package packages
