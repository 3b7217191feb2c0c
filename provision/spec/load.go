package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, defaults and validates a spec file. Every problem comes back
// as an InputError (or InputErrors) naming the file and line.
func Load(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &InputError{File: path, Problem: fmt.Sprintf("cannot read the spec: %v", PathProblem(err)), Fix: "pass an existing YAML file with --spec"}
	}
	return Parse(path, data)
}

// Parse is Load for bytes already read; path is used in errors and to
// resolve relative paths.
func Parse(path string, data []byte) (*Spec, error) {
	root, err := parseDoc(path, data)
	if err != nil {
		return nil, err
	}
	s, err := decodeSpec(path, root)
	if err != nil {
		return nil, err
	}
	s.File = path
	s.lines = keyLines(root)
	s.applyDefaults()
	if errs := s.validate(); len(errs) > 0 {
		return nil, errs
	}
	s.resolvePaths()
	return s, nil
}

// parseDoc parses YAML into a node tree and rejects what no spec key may
// hold, before the typed decode: control characters (a newline in a value
// is how kickstart or shell text gets injected), anchors and aliases (a
// "billion laughs" blow-up), and more than one document.
func parseDoc(path string, data []byte) (*yaml.Node, error) {
	if len(data) > 1<<20 {
		return nil, &InputError{File: path, Problem: "the file is larger than 1 MiB", Fix: "a spec is a short YAML file; check --spec points at the right file"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &InputError{File: path, Problem: "the file is empty", Fix: "see examples/mt01.yaml for a complete spec"}
		}
		return nil, yamlError(path, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &InputError{File: path, Line: extra.Line, Problem: "more than one YAML document", Fix: "keep one MT per spec file; use an inventory for a fleet"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(path, err)
	}
	var errs InputErrors
	walk(&root, func(n *yaml.Node) {
		if n.Anchor != "" || n.Kind == yaml.AliasNode {
			errs = append(errs, &InputError{File: path, Line: n.Line, Problem: "YAML anchors and aliases are not supported", Fix: "write the value out"})
		}
		if n.Kind == yaml.ScalarNode {
			if i := strings.IndexFunc(n.Value, isControl); i >= 0 {
				errs = append(errs, &InputError{File: path, Line: n.Line, Problem: fmt.Sprintf("value %q contains a control character (%U)", clip(n.Value), []rune(n.Value[i:])[0]), Fix: "values are single-line text; remove the newline or control character"})
			}
		}
	})
	if len(errs) > 0 {
		return nil, errs
	}
	if root.Kind != yaml.DocumentNode || len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, &InputError{File: path, Line: 1, Problem: "the spec is not a YAML mapping", Fix: "start with `name: mt01` and see examples/mt01.yaml"}
	}
	return &root, nil
}

// decodeSpec refuses unknown keys on the user's own node tree (so the line
// numbers are theirs), then does the typed decode.
func decodeSpec(path string, root *yaml.Node) (*Spec, error) {
	if errs := unknownKeys(path, root.Content[0], reflect.TypeOf(Spec{}), ""); len(errs) > 0 {
		return nil, errs
	}
	var s Spec
	if err := root.Decode(&s); err != nil {
		return nil, yamlError(path, err)
	}
	return &s, nil
}

func yamlError(path string, err error) error {
	var ie *InputError
	if errors.As(err, &ie) {
		ie.File = path
		return ie
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		var errs InputErrors
		for _, msg := range te.Errors {
			line := 0
			if _, err := fmt.Sscanf(msg, "line %d:", &line); err == nil {
				if i := strings.Index(msg, ": "); i >= 0 {
					msg = msg[i+2:]
				}
			}
			errs = append(errs, &InputError{File: path, Line: line, Problem: typeProblem(msg), Fix: "check the value's type against the spec reference in README.md"})
		}
		return errs
	}
	msg := err.Error()
	line := 0
	if _, e := fmt.Sscanf(strings.TrimPrefix(msg, "yaml: "), "line %d:", &line); e == nil {
		if i := strings.Index(msg, ": "); i >= 0 {
			if j := strings.Index(msg[i+2:], ": "); j >= 0 {
				msg = msg[i+2+j+2:]
			}
		}
	}
	// yaml.v3 reports parser errors inside a flow collection at the
	// 0-based line where the collection starts.
	if line > 0 && strings.Contains(msg, "did not find expected") {
		line++
	}
	return &InputError{File: path, Line: line, Problem: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: "), Fix: "check indentation and quoting on that line"}
}

// typeProblem turns yaml.v3's Go-flavoured type errors into the user's terms.
func typeProblem(msg string) string {
	r := strings.NewReplacer("!!str", "text", "!!int", "a number", "!!bool", "true/false", "!!seq", "a list", "!!map", "a mapping", "!!float", "a number")
	msg = r.Replace(msg)
	if i := strings.Index(msg, " into "); i >= 0 {
		msg = msg[:i] + " where another type is expected"
	}
	return msg
}

func walk(n *yaml.Node, f func(*yaml.Node)) {
	f(n)
	for _, c := range n.Content {
		walk(c, f)
	}
}

func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == 0x2028 || r == 0x2029
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func PathProblem(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// keyLines records the line of every dotted key, for errors raised after
// decoding.
func keyLines(root *yaml.Node) map[string]int {
	m := map[string]int{}
	var rec func(prefix string, n *yaml.Node)
	rec = func(prefix string, n *yaml.Node) {
		if n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if prefix != "" {
				k = prefix + "." + k
			}
			m[k] = n.Content[i].Line
			rec(k, n.Content[i+1])
		}
	}
	rec("", root.Content[0])
	return m
}

// Line returns the line a dotted key was written on, or the line of its
// nearest written parent, or 0.
func (s *Spec) Line(key string) int {
	for key != "" {
		if l, ok := s.lines[key]; ok {
			return l
		}
		i := strings.LastIndex(key, ".")
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

func (s *Spec) InputError(key, problem, fix string) *InputError {
	return &InputError{File: s.File, Line: s.Line(key), Key: key, Problem: problem, Fix: fix}
}
