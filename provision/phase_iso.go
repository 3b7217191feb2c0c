package provision

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mtprep/mtprep/images"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

// isoPhase writes the MT's install media locally (DESIGN.md, phase iso):
// the shared media of its base, once for every MT (media.go), and the
// MT's own seed ISO with its kickstart. The seed embeds a random salt and
// a fresh host key, so it is not rebuilt byte for byte; Check trusts a
// previous seed whose sidecar records the same inputs and whose size
// still matches, and media whose sidecar names the same base.
type isoPhase struct{}

func (isoPhase) Name() string { return "iso" }

func (isoPhase) makesMedia() {}

// mediaDir is where shared media are kept: BuildOptions.MediaDir, else
// <work dir>/media.
func (t *Target) mediaDir() string {
	if t.Options.MediaDir != "" {
		return t.Options.MediaDir
	}
	return filepath.Join(t.Options.WorkDir, "media")
}

// mediaPath is what the MT's first CD-ROM boots: the shared media of its
// base, or the base itself on an OS that installs from it untouched.
func mediaPath(t *Target) string {
	if untouchedBase(t) {
		return t.Spec.ISO.Base
	}
	return SharedMediaPath(t.mediaDir(), t.Spec.ISO.Base)
}

// untouchedBase: the OS attaches the user's ISO as it is (Windows).
func untouchedBase(t *Target) bool {
	m := osMedia(t)
	return m != nil && m.Base().Untouched
}

func seedPath(t *Target) string {
	return filepath.Join(t.Options.WorkDir, t.Spec.Name+"-seed.iso")
}

// currentSeed is the seed's sidecar when the seed is complete and was
// written for the spec's current values; nil otherwise.
func currentSeed(t *Target) (*ISOResult, string) {
	p := seedPath(t)
	r, err := ReadISOResult(p)
	if err != nil || r.Kind != "seed" {
		return nil, "no seed"
	}
	if fi, err := os.Stat(p); err != nil || fi.Size() != r.Size {
		return nil, "seed missing or truncated"
	}
	if r.Inputs != seedInputs(t.Spec) {
		return nil, "seed was written for other spec values"
	}
	return r, ""
}

func (isoPhase) Check(_ context.Context, t *Target) (Check, error) {
	media, seed := mediaPath(t), seedPath(t)
	t.Facts.ISOLocal, t.Facts.SeedLocal = media, seed
	var ch, obs []string
	if untouchedBase(t) {
		fi, err := os.Stat(media)
		if err != nil {
			return Check{}, t.Spec.InputError("iso.base", fmt.Sprintf("cannot read %s: %v", media, spec.PathProblem(err)), "point iso.base at your Windows Server ISO")
		}
		what, err := checkBase(t)
		if err != nil {
			return Check{}, err
		}
		obs = append(obs, fmt.Sprintf("base %s (%s, %d bytes) attached as it is: %s installs from it untouched, reading its %s from the seed", media, what, fi.Size(), t.Spec.OS, answerFile(t)))
	} else if r := currentMedia(media, t.Spec.ISO.Base); r != nil {
		obs = append(obs, fmt.Sprintf("media %s (sha256 %s, shared by every MT of this base)", media, r.SHA256[:12]))
	} else {
		ch = append(ch, fmt.Sprintf("write shared install media %s from %s (once for every MT of this base; boots with %s)", media, t.Spec.ISO.Base, bootArg(t)))
		obs = append(obs, "no shared media for this base")
	}
	if r, why := currentSeed(t); r != nil {
		obs = append(obs, fmt.Sprintf("seed %s (sha256 %s, host key %s)", seed, r.SHA256[:12], r.HostKeyFingerprint))
	} else {
		ch = append(ch, fmt.Sprintf("write seed %s with this MT's %s and a new SSH host key", seed, answerFile(t)))
		obs = append(obs, why)
	}
	return Check{Done: len(ch) == 0, Changes: ch, Observed: strings.Join(obs, "; ")}, nil
}

func (isoPhase) Apply(ctx context.Context, t *Target) error {
	if err := os.MkdirAll(t.Options.WorkDir, 0o755); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	var note string
	if untouchedBase(t) {
		note = fmt.Sprintf("base %s attached untouched", t.Spec.ISO.Base)
	} else {
		m, err := WriteSharedMedia(ctx, MediaOptions{
			Base: t.Spec.ISO.Base, Dir: t.mediaDir(), AllowUnknownBase: t.Options.AllowUnknownBase, Family: baseFamily(t),
			Progress: t.Progress, Log: t.Log,
		})
		if err != nil {
			return err
		}
		note = fmt.Sprintf("media %s (sha256 %s) from base sha256 %s", m.Out, m.SHA256, m.BaseSHA256)
	}
	if r, _ := currentSeed(t); r == nil {
		r, err := WriteSeed(ctx, t.Spec, SeedOptions{Out: seedPath(t), Env: t.Env, Log: t.Log, Media: osMedia(t)})
		if err != nil {
			return err
		}
		note += fmt.Sprintf("; wrote seed %s (sha256 %s, host key %s)", r.Out, r.SHA256, r.HostKeyFingerprint)
	}
	t.Note("iso", note)
	return nil
}

func (isoPhase) Verify(ctx context.Context, t *Target) error {
	c, err := isoPhase{}.Check(ctx, t)
	if err != nil {
		return err
	}
	if !c.Done {
		return fmt.Errorf("%s", c.Observed)
	}
	return nil
}

// osMedia is the Target's media part, nil when it has no OS.
func osMedia(t *Target) guest.Media {
	if t.OS == nil {
		return nil
	}
	return t.OS.Media
}

// answerFile names what the seed carries, for plans.
func answerFile(t *Target) string {
	if m := osMedia(t); m != nil && m.Base().AnswerFile != "" {
		return m.Base().AnswerFile
	}
	return "answer file"
}

// checkBase identifies an untouched base through the OS's media part;
// bad media are the spec's iso.base's problem (exit 2).
func checkBase(t *Target) (string, error) {
	bc, ok := osMedia(t).(guest.BaseChecker)
	if !ok {
		return "not identified", nil
	}
	what, warns, err := bc.CheckBase(t.Spec.ISO.Base, t.Options.AllowUnknownBase)
	if err != nil {
		return "", t.Spec.InputError("iso.base", err.Error(), "point iso.base at a Windows Server 2016 ISO from Microsoft, or pass --allow-unknown-base if you know it is one")
	}
	for _, w := range warns {
		t.Log.Warn("iso: "+w, "base", t.Spec.ISO.Base)
	}
	return what, nil
}

// baseFamily is the OS's base family for package images ("" is CentOS).
func baseFamily(t *Target) string {
	if m := osMedia(t); m != nil {
		return m.Base().Family
	}
	return ""
}

// bootArg is what the OS's shared media boot with, for plans.
func bootArg(t *Target) string {
	if m := osMedia(t); m != nil && m.Base().BootArg != "" {
		return m.Base().BootArg
	}
	return images.SharedKickstartArg
}
