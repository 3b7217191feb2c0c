package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
)

// The install stand-in's Ubuntu half: what debian-installer would leave
// from a preseed. It reads the preseed that the MT's seed carries
// (/preseed.cfg; the shared media's generic preseed loads it there) and
// applies the answers the MT's first boot depends on: the static address
// and host name, root's password hash, and preseed/late_command run in the
// installed system as `in-target` runs it in /target. Partitioning,
// packages and the boot loader are the real d-i's business, not modelled
// here (the qemu boot test proves the boot line and the seed's preseed
// reach the installer).

// preseedInfo is what the stand-in takes from a preseed.
type preseedInfo struct {
	kickstartInfo
	// Late is preseed/late_command after its in-target: run with sh in
	// the installed system.
	Late string
}

// parsePreseed reads "d-i key type value" lines; a value continued with a
// trailing backslash is joined, as debconf does.
func parsePreseed(b []byte) (preseedInfo, error) {
	var p preseedInfo
	var host, domain string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var cont string
	for sc.Scan() {
		line := cont + sc.Text()
		cont = ""
		if strings.HasSuffix(line, `\`) {
			cont = strings.TrimSuffix(line, `\`)
			continue
		}
		f := strings.SplitN(strings.TrimSpace(line), " ", 4)
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		val := ""
		if len(f) == 4 {
			val = strings.TrimSpace(f[3])
		}
		switch f[1] {
		case "netcfg/get_ipaddress":
			p.IP = val
		case "netcfg/get_netmask":
			p.Netmask = val
		case "netcfg/get_gateway":
			p.Gateway = val
		case "netcfg/get_nameservers":
			p.DNS = strings.Fields(val)
		case "netcfg/get_hostname":
			host = val
		case "netcfg/get_domain":
			domain = val
		case "netcfg/choose_interface":
			if val != "auto" {
				p.Device = val
			}
		case "passwd/root-password-crypted":
			p.RootHash = val
		case "preseed/late_command":
			p.Late = val
		}
	}
	if err := sc.Err(); err != nil {
		return p, err
	}
	p.Hostname = host
	if domain != "" {
		p.Hostname = host + "." + domain
	}
	if p.IP == "" || host == "" {
		return p, errors.New("preseed has no static netcfg/get_ipaddress and netcfg/get_hostname")
	}
	if p.Device == "" {
		p.Device = "ens160"
	}
	if p.Late != "" {
		rest, ok := strings.CutPrefix(p.Late, "in-target ")
		if !ok {
			return p, fmt.Errorf("preseed/late_command %q does not run in-target: the lab's stand-in runs only commands of the installed system", p.Late)
		}
		p.Late = rest
	}
	return p, nil
}

// applyPreseed writes what debian-installer would into the powered-off
// Ubuntu guest's root, and runs the late command there.
func (l *Lab) applyPreseed(ctx context.Context, g *Guest, p preseedInfo) error {
	if g.Flavour != FlavourUbuntu {
		return fmt.Errorf("the seed holds a preseed (Ubuntu), but lab guest %s is CentOS 6.6: start the lab with Options.Flavour (or GuestFlavours) FlavourUbuntu", g.Name)
	}
	rfs, err := openRootFS(g.Root)
	if err != nil {
		return err
	}
	defer rfs.Close()
	short, _, _ := strings.Cut(p.Hostname, ".")
	if err := rfs.WriteFile("/etc/hostname", []byte(short+"\n"), 0o644); err != nil {
		return err
	}
	// d-i's netcfg writes the FQDN beside 127.0.1.1 and the static stanza.
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n127.0.1.1\t%s\t%s\n", p.Hostname, short)
	if err := rfs.WriteFile("/etc/hosts", []byte(hosts), 0o644); err != nil {
		return err
	}
	ifaces := fmt.Sprintf("auto lo\niface lo inet loopback\n\nauto %s\niface %s inet static\n\taddress %s\n\tnetmask %s\n\tgateway %s\n\tdns-nameservers %s\n",
		p.Device, p.Device, p.IP, p.Netmask, p.Gateway, strings.Join(p.DNS, " "))
	if err := rfs.WriteFile("/etc/network/interfaces", []byte(ifaces), 0o644); err != nil {
		return err
	}
	if p.RootHash != "" {
		if err := setRootHash(rfs, p.RootHash); err != nil {
			return fmt.Errorf("passwd/root-password-crypted: %w", err)
		}
	}
	if strings.TrimSpace(p.Late) == "" {
		return nil
	}
	if out, err := g.Exec(ctx, "sh", "-c", p.Late); err != nil {
		return fmt.Errorf("preseed/late_command: %w: %s", err, out)
	}
	return nil
}
