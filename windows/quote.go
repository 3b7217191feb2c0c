package windows

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf16"
)

// Quote makes s a PowerShell single-quoted string literal: the one form in
// which PowerShell expands nothing ($, `, @, ( are plain characters). A
// quote inside is doubled; PowerShell also reads the typographic single
// quotes (U+2018, U+2019, U+201A, U+201B) as quote characters, so they are
// doubled the same way (a doubled one stands for itself).
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch r {
		case '\'', '\u2018', '\u2019', '\u201a', '\u201b':
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

// QuoteArgs quotes every argument and joins them with spaces.
func QuoteArgs(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// EncodeCommand is PowerShell's -EncodedCommand form of a command:
// base64 of its UTF-16LE bytes.
func EncodeCommand(cmd string) string {
	return base64.StdEncoding.EncodeToString(utf16LE(cmd))
}

// DecodeCommand reverses EncodeCommand; it also accepts a whole command
// line and decodes the word after -EncodedCommand, for logs and tests.
func DecodeCommand(s string) (string, error) {
	f := strings.Fields(s)
	for i, w := range f {
		if strings.EqualFold(w, "-EncodedCommand") && i+1 < len(f) {
			s = strings.TrimSuffix(f[i+1], ";")
		}
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", fmt.Errorf("decoding the PowerShell command: %w", err)
	}
	if len(b)%2 != 0 {
		return "", fmt.Errorf("decoding the PowerShell command: %d bytes is not UTF-16", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u)), nil
}

// utf16LE is s as UTF-16LE bytes (the unattend password encoding too).
func utf16LE(s string) []byte {
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2*len(u))
	for i, c := range u {
		b[2*i], b[2*i+1] = byte(c), byte(c>>8)
	}
	return b
}
