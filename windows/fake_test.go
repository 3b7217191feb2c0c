package windows

import (
	"context"
	"io"
	"time"

	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision/guest"
)

// call is one script a part ran.
type call struct {
	script string
	args   []string
	stdin  string
}

// fakeRunner answers each script with out (by script text) and records
// the calls.
type fakeRunner struct {
	out   map[string]string
	err   map[string]error
	calls []call
}

func (f *fakeRunner) Run(ctx context.Context, args ...string) ([]byte, error) {
	f.calls = append(f.calls, call{script: "RUN", args: args})
	return nil, nil
}

func (f *fakeRunner) Script(ctx context.Context, script string, stdin io.Reader, args ...string) ([]byte, error) {
	c := call{script: script, args: args}
	if stdin != nil {
		b, _ := io.ReadAll(stdin)
		c.stdin = string(b)
	}
	f.calls = append(f.calls, c)
	return []byte(f.out[script]), f.err[script]
}

func (f *fakeRunner) Upload(ctx context.Context, local, remote string, prog progress.Func) (*guest.UploadResult, error) {
	return &guest.UploadResult{}, nil
}
func (f *fakeRunner) UploadDir() (string, error)                              { return WorkDirPath, nil }
func (f *fakeRunner) Reboot(ctx context.Context, timeout time.Duration) error { return nil }
func (f *fakeRunner) User() string                                            { return "Administrator" }
