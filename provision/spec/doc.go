// Package spec owns the spec file: one master target as its user writes it
// (mt.yaml) and the fleet inventory, their loading, defaults, validation
// and schema, the secret references ({env} and {file}, read only when
// needed), and InputError, which names the file, line, key and fix of
// every bad input (the CLI's exit 2). It imports no other package of this
// module (internal/layers checks it): everything above it reads the spec,
// nothing below it exists.
package spec
