package spec

import (
	"fmt"
	"strings"
)

// InputError is bad input from the user: a spec or inventory file that does
// not parse or validate, or a secret that cannot be read. The CLI exits 2 on
// it. It always names the file and, when known, the line, so the user can go
// straight to the fix.
type InputError struct {
	File    string // the file the user wrote
	Line    int    // 1-based; 0 when the problem has no single line (a missing key)
	Key     string // dotted path of the key, e.g. network.ip
	Problem string // what is wrong, quoting the observed value
	Fix     string // what to write instead
}

func (e *InputError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	if e.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(e.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// InputErrors is every problem found in one file, so a user fixes them all
// in one pass rather than one per run.
type InputErrors []*InputError

func (es InputErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As find the individual *InputError.
func (es InputErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
