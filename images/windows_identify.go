package images

import (
	"fmt"
	"os"
)

// IdentifyWindows is InspectWindows without the hash: what a plan needs
// to refuse the wrong base before anything is uploaded, at the cost of a
// few sector reads instead of reading some 5 GB.
func IdentifyWindows(path string) (*WindowsMedia, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("iso: open base: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("iso: base %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("iso: base %s: not a regular file: %w", path, ErrUnknownBase)
	}
	return identifyWindows(f, path, st.Size())
}
