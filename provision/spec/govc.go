package spec

import (
	"strconv"
	"strings"
)

// ApplyGovcEnv fills unset vsphere fields from the govc variables. The
// password is kept as a reference to GOVC_PASSWORD, not copied, so it is
// read only when a connection is made.
func (v *VSphere) ApplyGovcEnv(env LookupEnv) {
	get := func(k string) string {
		s, _ := env(k)
		return strings.TrimSpace(s)
	}
	fill := func(p *string, k string) {
		if *p == "" {
			*p = get(k)
		}
	}
	fill(&v.URL, "GOVC_URL")
	fill(&v.Username, "GOVC_USERNAME")
	fill(&v.Datacenter, "GOVC_DATACENTER")
	fill(&v.Datastore, "GOVC_DATASTORE")
	fill(&v.Network, "GOVC_NETWORK")
	fill(&v.Host, "GOVC_HOST")
	fill(&v.Folder, "GOVC_FOLDER")
	if !v.Password.IsSet() {
		if _, ok := env("GOVC_PASSWORD"); ok {
			v.Password = Secret{Env: "GOVC_PASSWORD"}
		}
	}
	if !v.Insecure {
		if b, err := strconv.ParseBool(get("GOVC_INSECURE")); err == nil {
			v.Insecure = b
		}
	}
}
