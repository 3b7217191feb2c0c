package packages

import (
	"fmt"
	"strconv"
	"strings"
)

// CompareDeb compares two Debian versions as dpkg does (Policy 5.6.12,
// dpkg's verrevcmp): the epoch as a number, then the upstream version and
// the revision, each by alternating non-digit parts (letters before
// non-letters, ~ before everything, even the end) and digit parts (as
// numbers). It returns -1, 0 or 1.
func CompareDeb(a, b string) (int, error) {
	ea, ua, ra, err := splitDeb(a)
	if err != nil {
		return 0, err
	}
	eb, ub, rb, err := splitDeb(b)
	if err != nil {
		return 0, err
	}
	switch {
	case ea < eb:
		return -1, nil
	case ea > eb:
		return 1, nil
	}
	if c := verrevcmp(ua, ub); c != 0 {
		return c, nil
	}
	return verrevcmp(ra, rb), nil
}

func splitDeb(v string) (epoch int, upstream, revision string, err error) {
	if !debVersionRe.MatchString(v) {
		return 0, "", "", fmt.Errorf("version %q: not a Debian version ([epoch:]upstream[-revision])", v)
	}
	if e, rest, ok := strings.Cut(v, ":"); ok {
		n, perr := strconv.Atoi(e)
		if perr != nil || rest == "" {
			return 0, "", "", fmt.Errorf("version %q: bad epoch", v)
		}
		epoch, v = n, rest
	}
	upstream, revision = v, ""
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		upstream, revision = v[:i], v[i+1:]
	}
	return epoch, upstream, revision, nil
}

// order is dpkg's order of one character of a non-digit part.
func order(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return 0
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return int(c)
	case c == '~':
		return -1
	case c != 0:
		return int(c) + 256
	}
	return 0
}

func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		firstDiff := 0
		for i < len(a) && !isDigit(a[i]) || j < len(b) && !isDigit(b[j]) {
			var ac, bc int
			if i < len(a) {
				ac = order(a[i])
			}
			if j < len(b) {
				bc = order(b[j])
			}
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
