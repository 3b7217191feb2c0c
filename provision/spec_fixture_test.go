package provision

import "github.com/mtprep/mtprep/provision/spec/spectest"

const validSpec = spectest.Valid
