package windows

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// list is an array as Windows PowerShell 5.1's ConvertTo-Json may write
// it: an array, null, a lone element (a one-item pipeline unrolled), or
// {"value": [...], "Count": n} (an array wrapped in a PSObject).
type list[T any] []T

func (l *list[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*l = nil
		return nil
	case len(b) > 0 && b[0] == '[':
		var v []T
		err := json.Unmarshal(b, &v)
		*l = v
		return err
	case len(b) > 0 && b[0] == '{':
		var w struct {
			Value *[]T `json:"value"`
			Count *int `json:"Count"`
		}
		if err := json.Unmarshal(b, &w); err == nil && w.Value != nil && w.Count != nil {
			*l = *w.Value
			return nil
		}
	}
	var one T
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*l = list[T]{one}
	return nil
}

// enumValue is a CIM enum as ConvertTo-Json writes it: a number, a
// string, or null.
type enumValue struct {
	Num    int64
	Str    string
	IsNum  bool
	IsNull bool
}

func (e *enumValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		e.IsNull = true
		return nil
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &e.Str)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("enum value %s: %w", b, err)
	}
	e.Num, e.IsNum = n, true
	return nil
}

// Name is the enum's name when names maps its number.
func (e enumValue) Name(names map[int64]string) string {
	if e.IsNum {
		if s, ok := names[e.Num]; ok {
			return s
		}
		return strconv.FormatInt(e.Num, 10)
	}
	return e.Str
}

// driveValue is a [char] drive letter as ConvertTo-Json writes it: a
// one-character string ("R", "\u0000" for none), or its code point.
type driveValue string

func (d *driveValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*d = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.Trim(s, "\x00 ")
		*d = driveValue(strings.ToUpper(s))
		return nil
	}
	n, err := strconv.Atoi(string(b))
	if err != nil {
		return fmt.Errorf("drive letter %s: %w", b, err)
	}
	if n >= 'A' && n <= 'Z' || n >= 'a' && n <= 'z' {
		*d = driveValue(strings.ToUpper(string(rune(n))))
	} else {
		*d = ""
	}
	return nil
}
