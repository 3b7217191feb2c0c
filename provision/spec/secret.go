package spec

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// Secret is a reference to a secret, never the secret itself: the spec file
// is committed and shared, so it names an environment variable or a file.
type Secret struct {
	Env  string `yaml:"env" json:"env,omitempty"`
	File string `yaml:"file" json:"file,omitempty"`
}

// IsSet reports whether the spec names a source for the secret.
func (s Secret) IsSet() bool { return s.Env != "" || s.File != "" }

// String never shows the value, so a Secret is safe in logs and %v.
func (s Secret) String() string {
	switch {
	case s.Env != "":
		return "env:" + s.Env
	case s.File != "":
		return "file:" + s.File
	}
	return "unset"
}

// LookupEnv is os.LookupEnv; tests pass their own.
type LookupEnv func(string) (string, bool)

// RevealSecret reads the secret at key (for example "rootPassword"). A
// missing variable or file, or an empty value, is an InputError naming the
// spec line, never the value. Trailing newlines of a file are dropped (echo
// adds one); other whitespace is kept.
func (s *Spec) RevealSecret(key string, sec Secret, env LookupEnv) (string, error) {
	if env == nil {
		env = os.LookupEnv
	}
	switch {
	case sec.Env != "":
		v, ok := env(sec.Env)
		if !ok || v == "" {
			return "", s.InputError(key, fmt.Sprintf("environment variable %s is not set", sec.Env), fmt.Sprintf("export %s before running mtprep (read -rs %s && export %s)", sec.Env, sec.Env, sec.Env))
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return "", s.InputError(key, fmt.Sprintf("environment variable %s contains a newline or NUL", sec.Env), "set it to a single line")
		}
		return v, nil
	case sec.File != "":
		b, err := os.ReadFile(sec.File)
		if err != nil {
			return "", s.InputError(key, fmt.Sprintf("cannot read secret file %s: %v", sec.File, PathProblem(err)), "create the file (mode 0600) or fix the path")
		}
		b = bytes.TrimRight(b, "\r\n")
		if len(b) == 0 {
			return "", s.InputError(key, fmt.Sprintf("secret file %s is empty", sec.File), "write the secret into it")
		}
		if bytes.ContainsAny(b, "\r\n\x00") {
			return "", s.InputError(key, fmt.Sprintf("secret file %s has more than one line", sec.File), "keep the secret on one line")
		}
		return string(b), nil
	}
	return "", s.InputError(key, "no secret given", fmt.Sprintf("add `%s: {env: VAR_NAME}` or `{file: path}`", key))
}
