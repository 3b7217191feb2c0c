package spec

import (
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// Inventory is a fleet of MTs (issue 7): `defaults` holds any key of the
// spec file, each entry of `targets` is deep-merged over it and then
// validated exactly like a spec file. Errors name the inventory's lines.
type Inventory struct {
	File  string
	Specs []*Spec
}

// LoadInventory reads and validates an inventory. Duplicate names,
// hostnames, IPs or SSH addresses are refused before anything starts,
// naming both entries.
func LoadInventory(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &InputError{File: path, Problem: fmt.Sprintf("cannot read the inventory: %v", PathProblem(err)), Fix: "pass an existing YAML file with --inventory"}
	}
	return ParseInventory(path, data)
}

// ParseInventory is LoadInventory for bytes already read.
func ParseInventory(path string, data []byte) (*Inventory, error) {
	root, err := parseDoc(path, data)
	if err != nil {
		return nil, err
	}
	top := root.Content[0]
	var defaults, targets *yaml.Node
	var errs InputErrors
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		switch k.Value {
		case "defaults":
			defaults = v
		case "targets":
			targets = v
		default:
			errs = append(errs, &InputError{File: path, Line: k.Line, Key: k.Value, Problem: "unknown key", Fix: "an inventory has `defaults:` and `targets:`"})
		}
	}
	if targets == nil || targets.Kind != yaml.SequenceNode || len(targets.Content) == 0 {
		errs = append(errs, &InputError{File: path, Line: top.Line, Key: "targets", Problem: "missing or empty", Fix: "list the MTs under `targets:`, each with at least name and network"})
	}
	if defaults != nil && defaults.Kind != yaml.MappingNode {
		errs = append(errs, &InputError{File: path, Line: defaults.Line, Key: "defaults", Problem: "not a mapping", Fix: "give spec keys under defaults"})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	inv := &Inventory{File: path}
	for _, t := range targets.Content {
		if t.Kind != yaml.MappingNode {
			errs = append(errs, &InputError{File: path, Line: t.Line, Key: "targets", Problem: "an entry is not a mapping", Fix: "write each target as `- name: mt01` with its keys"})
			continue
		}
		merged := t
		if defaults != nil {
			merged = mergeNodes(defaults, t)
		}
		doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{merged}}
		s, err := decodeSpec(path, doc)
		if err != nil {
			errs = append(errs, asInputErrors(err)...)
			continue
		}
		s.File = path
		s.lines = keyLines(doc)
		s.applyDefaults()
		if verrs := s.validate(); len(verrs) > 0 {
			for _, e := range verrs {
				if e.Line == 0 {
					e.Line = t.Line
				}
				e.Problem = fmt.Sprintf("target %q: %s", s.Name, e.Problem)
			}
			errs = append(errs, verrs...)
			continue
		}
		s.resolvePaths()
		inv.Specs = append(inv.Specs, s)
	}
	errs = append(errs, duplicates(path, inv.Specs)...)
	if len(errs) > 0 {
		return nil, errs
	}
	return inv, nil
}

func asInputErrors(err error) InputErrors {
	switch e := err.(type) {
	case InputErrors:
		return e
	case *InputError:
		return InputErrors{e}
	}
	return InputErrors{{Problem: err.Error()}}
}

// mergeNodes deep-merges over onto base: mappings merge key by key,
// anything else (scalars, lists) is replaced. Nodes are shared, not
// copied, so line numbers stay the user's.
func mergeNodes(base, over *yaml.Node) *yaml.Node {
	if base.Kind != yaml.MappingNode || over.Kind != yaml.MappingNode {
		return over
	}
	out := &yaml.Node{Kind: yaml.MappingNode, Tag: over.Tag, Line: over.Line, Column: over.Column}
	idx := map[string]int{}
	for i := 0; i+1 < len(base.Content); i += 2 {
		idx[base.Content[i].Value] = len(out.Content)
		out.Content = append(out.Content, base.Content[i], base.Content[i+1])
	}
	for i := 0; i+1 < len(over.Content); i += 2 {
		k, v := over.Content[i], over.Content[i+1]
		if j, ok := idx[k.Value]; ok {
			out.Content[j] = k
			out.Content[j+1] = mergeNodes(out.Content[j+1], v)
			continue
		}
		idx[k.Value] = len(out.Content)
		out.Content = append(out.Content, k, v)
	}
	return out
}

// duplicates refuses two targets with the same name, hostname, IP or SSH
// address, naming both lines.
func duplicates(path string, specs []*Spec) InputErrors {
	var errs InputErrors
	fields := []struct {
		key string
		get func(*Spec) string
	}{
		{"name", func(s *Spec) string { return s.Name }},
		{"network.hostname", func(s *Spec) string { return s.Network.Hostname }},
		{"network.ip", func(s *Spec) string { return s.Network.Address() }},
		{"ssh.address", func(s *Spec) string { return s.SSH.Address + fmt.Sprint(":", s.SSH.Port) }},
	}
	for _, f := range fields {
		seen := map[string]*Spec{}
		for _, s := range specs {
			v := f.get(s)
			if prev, ok := seen[v]; ok && v != "" {
				errs = append(errs, &InputError{File: path, Line: s.Line(f.key), Key: f.key,
					Problem: fmt.Sprintf("target %q has the same %s %q as target %q (line %d)", s.Name, f.key, v, prev.Name, prev.Line(f.key)),
					Fix:     "give every MT its own name, hostname and address"})
				continue
			}
			seen[v] = s
		}
	}
	return errs
}
