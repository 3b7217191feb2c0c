package spec

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// unknownKeys walks a mapping node against the struct type it decodes into
// and reports every key the type does not have, with the keys it does, so a
// typo like `memoryMb` is caught with its line and the right spelling.
// The schema is the struct's yaml tags: one source of truth.
func unknownKeys(path string, n *yaml.Node, t reflect.Type, prefix string) InputErrors {
	if t == reflect.TypeOf(Secret{}) {
		return secretShape(path, n, prefix)
	}
	if t.Kind() != reflect.Struct || n.Kind != yaml.MappingNode {
		return nil // type mismatches are reported by the typed decode
	}
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		fields[name] = f.Type
	}
	var errs InputErrors
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		if prefix != "" {
			key = prefix + "." + k.Value
		}
		if seen[k.Value] {
			errs = append(errs, &InputError{File: path, Line: k.Line, Key: key, Problem: "key given twice", Fix: "keep one of them"})
			continue
		}
		seen[k.Value] = true
		ft, ok := fields[k.Value]
		if !ok {
			errs = append(errs, &InputError{File: path, Line: k.Line, Key: key, Problem: "unknown key", Fix: suggest(k.Value, fields)})
			continue
		}
		errs = append(errs, unknownKeys(path, v, ft, key)...)
	}
	return errs
}

// secretShape enforces that a secret is a reference, never a literal.
func secretShape(path string, n *yaml.Node, key string) InputErrors {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	fix := fmt.Sprintf("write `%s: {env: VAR_NAME}` or `%s: {file: path/to/file}`", key[strings.LastIndex(key, ".")+1:], key[strings.LastIndex(key, ".")+1:])
	if n.Kind != yaml.MappingNode {
		return InputErrors{{File: path, Line: n.Line, Key: key, Problem: "a secret cannot be written in the spec file", Fix: fix}}
	}
	var errs InputErrors
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i]; k.Value {
		case "env", "file":
		default:
			errs = append(errs, &InputError{File: path, Line: k.Line, Key: key + "." + k.Value, Problem: "unknown key", Fix: fix})
		}
	}
	return errs
}

func suggest(bad string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for n := range fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if strings.EqualFold(n, bad) {
			return fmt.Sprintf("did you mean %q? keys are case-sensitive", n)
		}
	}
	return "known keys here: " + strings.Join(names, ", ")
}
