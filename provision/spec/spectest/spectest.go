// Package spectest holds spec fixtures for the tests of every package that
// takes a spec, so they share one valid spec instead of copies of it.
package spectest

// Valid is examples/mt01.yaml's shape, kept here so the tests do not depend
// on the example's comments.
const Valid = `name: mt01
os: centos-6.6
vsphere: {url: "", insecure: false, datacenter: DC0, host: "", cluster: "", datastore: LocalDS_0, network: VM Network, folder: ""}
iso: {base: ./CentOS-6.6-x86_64-minimal.iso}
vm: {cpus: 4, memoryMB: 6144, osDiskGB: 100, retentionDiskGB: 1024}
network: {hostname: mt01.example.com, ip: 192.0.2.10/24, gateway: 192.0.2.1, dns: [192.0.2.53], device: eth0}
timezone: America/New_York
rootPassword: {env: MT_ROOT_PASSWORD}
ssh: {user: root, address: "", privateKey: ~/.ssh/id_rsa, knownHosts: ~/.ssh/known_hosts, hostKey: strict}
packages: {source: bundle, bundle: ./mt-bundle.tar}
agent: {tarball: ./ASR_UA_RHEL6-64.tar.gz, sha256: ""}
configServer: {ip: 192.0.2.5, passphrase: {file: ./passphrase.txt}}
retention: {mountpoint: /mnt/retention, filesystem: ext4}
`
