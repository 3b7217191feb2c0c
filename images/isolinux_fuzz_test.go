package images

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzRewriteIsolinuxCfg: no input panics, and every accepted input gives
// exactly one "default ks", one "menu default" (in the ks entry), one ks
// entry with ks=cdrom:/ks.cfg, and keeps every label of the base.
func FuzzRewriteIsolinuxCfg(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "isolinux", "*.cfg"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, int64(0))
	}
	f.Add([]byte("default ks\nlabel ks\n menu default\n kernel k\n append ks=x\nlabel KS\n kernel k2\n"), int64(time.Second))
	f.Add([]byte("label a\r\nlabel b\n menu default extra\n kernel k\n append -\n"), int64(-1))
	f.Add([]byte("ui menu.c32\ndefault a.c32\nlabel x\n linux k\n initrd i\n"), int64(time.Hour))
	f.Fuzz(func(t *testing.T, cfg []byte, timeout int64) {
		out, err := RewriteIsolinuxCfg(cfg, time.Duration(timeout))
		if err != nil {
			return
		}
		checkRewrite(t, cfg, out)
	})
}
