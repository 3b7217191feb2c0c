package lab

import "fmt"

// SpecYAML is a spec file for guest g of the lab, every value from the
// lab: name is the VM's name and address the MT's SSH address; the vCenter
// password comes from the environment variable vcPasswordEnv.
func (l *Lab) SpecYAML(g *Guest, name, address, vcPasswordEnv string) string {
	return fmt.Sprintf(`name: %s
vsphere: {url: "https://%s/sdk", username: %q, password: {env: %s}, thumbprint: %q, datacenter: %s, datastore: %s, network: %q}
iso: {base: ./unused.iso}
network: {hostname: %s, ip: %s/24, gateway: %s, dns: [%s]}
rootPassword: {env: MT_ROOT_PASSWORD}
ssh: {address: %s, privateKey: %s, knownHosts: %s, hostKey: strict}
packages: {source: bundle, bundle: %s}
agent: {tarball: %s}
configServer: {ip: %s, port: %d, passphrase: {file: %s}, version: 9.3.0.0}
retention: {mountpoint: /mnt/retention}
audit: {protectedDatastores: [%s]}
`, name, l.VC.URL.Host, l.VC.Username, vcPasswordEnv, l.VC.Thumbprint, l.VC.Datacenter, l.VC.Datastore, l.VC.Network,
		g.Hostname, address, l.HostIP, l.HostIP,
		address, g.UserKeyFile, g.KnownHostsFile,
		l.BundlePath, l.AgentTarball,
		l.ConfigServer.IP, l.ConfigServer.Port, l.ConfigServer.PassphraseFile, l.VC.Datastore)
}
