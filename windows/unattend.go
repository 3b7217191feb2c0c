package windows

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/mtprep/mtprep/images"
	"github.com/mtprep/mtprep/provision/spec"
)

// Firmware values of Options.Firmware.
const (
	BIOS = "bios"
	EFI  = "efi"
)

// DefaultImageName is the install.wim image installed when the spec names
// none: Windows Server 2016 Standard with the Desktop Experience.
const DefaultImageName = "Windows Server 2016 SERVERSTANDARD"

// Interface is the name Windows Server 2016 gives the first e1000e NIC on
// VMware ("Ethernet0"); unattend's TCPIP and DNS-Client components find
// the interface by it. An assumption from VMware guests, not a contract:
// Options.Interface overrides it.
const Interface = "Ethernet0"

// SeedScript is the first-logon script's name on the seed.
const SeedScript = "mtprep-firstboot.ps1"

// FirstLogonCommand runs the first-logon script from the seed CD, found by
// its volume label (drive letters depend on the VM's devices). No spec
// value is ever part of it.
const FirstLogonCommand = `powershell -NoProfile -ExecutionPolicy Bypass -Command "$v = Get-Volume -FileSystemLabel '` + images.SeedLabel + `' | Select-Object -First 1; & powershell -NoProfile -ExecutionPolicy Bypass -File ($v.DriveLetter + ':\` + SeedScript + `')"`

// Options are the install choices: Media fills the firmware, the
// install.wim image, the product key and the NIC's name from the spec
// (vm.firmware, windows.image, windows.productKey, network.device) where
// they are unset; the locale has no spec key (en-US).
type Options struct {
	Firmware   string // BIOS (default) or EFI
	ImageName  string // /IMAGE/NAME (default DefaultImageName)
	ImageIndex int    // /IMAGE/INDEX, used instead of the name when > 0
	ProductKey string // "" for none (evaluation and KMS media)
	Locale     string // default en-US
	Interface  string // default Interface
}

func (o Options) withDefaults() Options {
	if o.Firmware == "" {
		o.Firmware = BIOS
	}
	if o.ImageName == "" && o.ImageIndex <= 0 {
		o.ImageName = DefaultImageName
	}
	if o.Locale == "" {
		o.Locale = "en-US"
	}
	if o.Interface == "" {
		o.Interface = Interface
	}
	return o
}

// Unattend is everything autounattend.xml holds, resolved and checked.
type Unattend struct {
	Options
	ComputerName, DNSDomain string
	TimeZone                string // Windows ID
	Address                 netip.Prefix
	Gateway                 netip.Addr
	DNS                     []netip.Addr
	AdminPassword           string
}

var (
	netbiosRe    = regexp.MustCompile(`^[A-Za-z0-9-]{1,15}$`)
	productKeyRe = regexp.MustCompile(`^[A-Z0-9]{5}(-[A-Z0-9]{5}){4}$`)
	localeRe     = regexp.MustCompile(`^[a-z]{2,3}-[A-Z]{2}$`)
	ifaceRe      = regexp.MustCompile(`^[A-Za-z0-9 ._-]{1,64}$`)
	domainRe     = regexp.MustCompile(`^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$`)
)

func inputErr(s *spec.Spec, key, problem, fix string) error {
	return &spec.InputError{File: s.File, Key: key, Problem: problem, Fix: fix}
}

// UnattendFor maps the spec onto autounattend.xml's values; a value
// Windows Setup cannot take is an input error naming its key.
func UnattendFor(s *spec.Spec, password string, o Options) (*Unattend, error) {
	o = o.withDefaults()
	u := &Unattend{Options: o, AdminPassword: password}
	host, domain, _ := strings.Cut(s.Network.Hostname, ".")
	if !netbiosRe.MatchString(host) || strings.Trim(host, "0123456789") == "" || strings.HasPrefix(host, "-") {
		return nil, inputErr(s, "network.hostname", fmt.Sprintf("%q: a Windows computer name is the host name's first label, 1 to 15 letters, digits and hyphens, not only digits", host), "use a shorter first label, e.g. mt01.example.com")
	}
	u.ComputerName, u.DNSDomain = host, domain
	if domain != "" && !domainRe.MatchString(domain) {
		return nil, inputErr(s, "network.hostname", fmt.Sprintf("%q is not a DNS domain", domain), "use a name such as mt01.example.com")
	}
	z, ok := WindowsZone(s.Timezone)
	if !ok {
		return nil, inputErr(s, "timezone", fmt.Sprintf("%q has no Windows time zone mtprep knows", s.Timezone), "use one of the IANA names in windows/timezones.go (e.g. Europe/Berlin, America/New_York, UTC)")
	}
	u.TimeZone = z
	p, err := netip.ParsePrefix(s.Network.IP)
	if err != nil || !p.Addr().Is4() {
		return nil, inputErr(s, "network.ip", fmt.Sprintf("%q is not an IPv4 address/prefix", s.Network.IP), "write it as 192.0.2.10/24")
	}
	u.Address = p
	if s.Network.Gateway != "" {
		g, err := netip.ParseAddr(s.Network.Gateway)
		if err != nil || !g.Is4() {
			return nil, inputErr(s, "network.gateway", fmt.Sprintf("%q is not an IPv4 address", s.Network.Gateway), "write it as 192.0.2.1")
		}
		u.Gateway = g
	}
	for _, d := range s.Network.DNS {
		a, err := netip.ParseAddr(strings.TrimSpace(d))
		if err != nil {
			return nil, inputErr(s, "network.dns", fmt.Sprintf("%q is not an IP address", d), "list one address per entry: dns: [192.0.2.53, 192.0.2.54]")
		}
		u.DNS = append(u.DNS, a)
	}
	switch o.Firmware {
	case BIOS, EFI:
	default:
		return nil, fmt.Errorf("windows: firmware %q: use %s or %s", o.Firmware, BIOS, EFI)
	}
	if o.ProductKey != "" && !productKeyRe.MatchString(o.ProductKey) {
		return nil, fmt.Errorf("windows: the product key is not five groups of five letters and digits")
	}
	if !localeRe.MatchString(o.Locale) {
		return nil, fmt.Errorf("windows: locale %q is not a language tag such as en-US", o.Locale)
	}
	if !ifaceRe.MatchString(o.Interface) {
		return nil, fmt.Errorf("windows: interface name %q", o.Interface)
	}
	return u, nil
}

// node is one XML element; Render writes the tree with encoding/xml's
// Encoder, which escapes every text and attribute value (and replaces
// characters XML cannot hold), so no value can open an element.
type node struct {
	name  string
	attrs []xml.Attr
	text  string
	kids  []*node
}

func el(name string, kids ...*node) *node { return &node{name: name, kids: kids} }
func tx(name, text string) *node          { return &node{name: name, text: text} }

func (n *node) attr(k, v string) *node {
	n.attrs = append(n.attrs, xml.Attr{Name: xml.Name{Local: k}, Value: v})
	return n
}

// add marks a list item: wcm:action="add".
func (n *node) add() *node { return n.attr("wcm:action", "add") }

const (
	unattendNS = "urn:schemas-microsoft-com:unattend"
	wcmNS      = "http://schemas.microsoft.com/WMIConfig/2002/State"
	xsiNS      = "http://www.w3.org/2001/XMLSchema-instance"
)

// component is a component element with the attributes every one needs.
func component(name string, kids ...*node) *node {
	c := el("component", kids...)
	c.attr("name", name).attr("processorArchitecture", "amd64").attr("publicKeyToken", "31bf3856ad364e35").
		attr("language", "neutral").attr("versionScope", "nonSxS").attr("xmlns:wcm", wcmNS).attr("xmlns:xsi", xsiNS)
	return c
}

// Password encodes a password the way Windows SIM hides it (PlainText
// false): base64 of UTF-16LE(password + suffix), the suffix being the
// element's name ("AdministratorPassword", "Password" for AutoLogon).
func Password(password, suffix string) string {
	return base64.StdEncoding.EncodeToString(utf16LE(password + suffix))
}

func (u *Unattend) partitions() (create, modify []*node, installTo int) {
	cp := func(order int, typ string, size int) *node {
		n := el("CreatePartition", tx("Order", strconv.Itoa(order)), tx("Type", typ)).add()
		if size > 0 {
			n.kids = append(n.kids, tx("Size", strconv.Itoa(size)))
		} else {
			n.kids = append(n.kids, tx("Extend", "true"))
		}
		return n
	}
	mp := func(order, id int, kids ...*node) *node {
		return el("ModifyPartition", append([]*node{tx("Order", strconv.Itoa(order)), tx("PartitionID", strconv.Itoa(id))}, kids...)...).add()
	}
	if u.Firmware == EFI {
		create = []*node{cp(1, "EFI", 100), cp(2, "MSR", 16), cp(3, "Primary", 0)}
		modify = []*node{
			mp(1, 1, tx("Label", "System"), tx("Format", "FAT32")),
			mp(2, 3, tx("Label", "Windows"), tx("Letter", "C"), tx("Format", "NTFS")),
		}
		return create, modify, 3
	}
	create = []*node{cp(1, "Primary", 500), cp(2, "Primary", 0)}
	modify = []*node{
		mp(1, 1, tx("Label", "System Reserved"), tx("Format", "NTFS"), tx("Active", "true")),
		mp(2, 2, tx("Label", "Windows"), tx("Letter", "C"), tx("Format", "NTFS")),
	}
	return create, modify, 2
}

func (u *Unattend) tree() *node {
	create, modify, installTo := u.partitions()
	meta := el("MetaData", tx("Key", "/IMAGE/NAME"), tx("Value", u.ImageName)).add()
	if u.ImageIndex > 0 {
		meta = el("MetaData", tx("Key", "/IMAGE/INDEX"), tx("Value", strconv.Itoa(u.ImageIndex))).add()
	}
	userData := el("UserData", tx("AcceptEula", "true"), tx("FullName", "mtprep"), tx("Organization", "mtprep"))
	if u.ProductKey != "" {
		userData.kids = append(userData.kids, el("ProductKey", tx("Key", u.ProductKey), tx("WillShowUI", "OnError")))
	}
	windowsPE := el("settings",
		component("Microsoft-Windows-International-Core-WinPE",
			el("SetupUILanguage", tx("UILanguage", u.Locale)),
			tx("InputLocale", u.Locale), tx("SystemLocale", u.Locale), tx("UILanguage", u.Locale), tx("UserLocale", u.Locale)),
		component("Microsoft-Windows-Setup",
			el("DiskConfiguration",
				el("Disk", tx("DiskID", "0"), tx("WillWipeDisk", "true"),
					el("CreatePartitions", create...), el("ModifyPartitions", modify...)).add(),
				tx("WillShowUI", "OnError")),
			el("ImageInstall", el("OSImage",
				el("InstallFrom", meta),
				el("InstallTo", tx("DiskID", "0"), tx("PartitionID", strconv.Itoa(installTo))),
				tx("WillShowUI", "OnError"))),
			userData),
	).attr("pass", "windowsPE")

	ip := el("UnicastIpAddresses", tx("IpAddress", u.Address.String()).add().attr("wcm:keyValue", "1"))
	iface := el("Interface",
		el("Ipv4Settings", tx("DhcpEnabled", "false"), tx("RouterDiscoveryEnabled", "false")),
		tx("Identifier", u.Interface), ip).add()
	if u.Gateway.IsValid() {
		iface.kids = append(iface.kids, el("Routes", el("Route", tx("Identifier", "0"), tx("Prefix", "0.0.0.0/0"), tx("NextHopAddress", u.Gateway.String()), tx("Metric", "10")).add()))
	}
	dnsIface := el("Interface", tx("Identifier", u.Interface)).add()
	if len(u.DNS) > 0 {
		order := el("DNSServerSearchOrder")
		for i, a := range u.DNS {
			order.kids = append(order.kids, tx("IpAddress", a.String()).add().attr("wcm:keyValue", strconv.Itoa(i+1)))
		}
		dnsIface.kids = append(dnsIface.kids, order)
	}
	if u.DNSDomain != "" {
		dnsIface.kids = append(dnsIface.kids, tx("DNSDomain", u.DNSDomain))
	}
	specialize := el("settings",
		component("Microsoft-Windows-Shell-Setup", tx("ComputerName", u.ComputerName), tx("TimeZone", u.TimeZone)),
		component("Microsoft-Windows-TCPIP", el("Interfaces", iface)),
		component("Microsoft-Windows-DNS-Client", el("Interfaces", dnsIface)),
	).attr("pass", "specialize")

	oobe := el("settings",
		component("Microsoft-Windows-International-Core",
			tx("InputLocale", u.Locale), tx("SystemLocale", u.Locale), tx("UILanguage", u.Locale), tx("UserLocale", u.Locale)),
		component("Microsoft-Windows-Shell-Setup",
			el("OOBE", tx("HideEULAPage", "true"), tx("HideLocalAccountScreen", "true"), tx("HideOnlineAccountScreens", "true"),
				tx("HideWirelessSetupInOOBE", "true"), tx("NetworkLocation", "Work"), tx("ProtectYourPC", "3")),
			el("UserAccounts", el("AdministratorPassword", tx("Value", Password(u.AdminPassword, "AdministratorPassword")), tx("PlainText", "false"))),
			el("AutoLogon", el("Password", tx("Value", Password(u.AdminPassword, "Password")), tx("PlainText", "false")),
				tx("Enabled", "true"), tx("LogonCount", "1"), tx("Username", "Administrator")),
			el("FirstLogonCommands", el("SynchronousCommand",
				tx("Order", "1"), tx("CommandLine", FirstLogonCommand), tx("Description", "mtprep first boot: OpenSSH, host key, firewall"),
				tx("RequiresUserInput", "false")).add()),
		),
	).attr("pass", "oobeSystem")
	return el("unattend", windowsPE, specialize, oobe).attr("xmlns", unattendNS)
}

// Render writes autounattend.xml.
func (u *Unattend) Render() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	var write func(n *node) error
	write = func(n *node) error {
		start := xml.StartElement{Name: xml.Name{Local: n.name}, Attr: n.attrs}
		if err := enc.EncodeToken(start); err != nil {
			return err
		}
		if n.text != "" {
			if err := enc.EncodeToken(xml.CharData(n.text)); err != nil {
				return err
			}
		}
		for _, k := range n.kids {
			if err := write(k); err != nil {
				return err
			}
		}
		return enc.EncodeToken(start.End())
	}
	if err := write(u.tree()); err != nil {
		return nil, fmt.Errorf("autounattend.xml: %w", err)
	}
	if err := enc.Flush(); err != nil {
		return nil, fmt.Errorf("autounattend.xml: %w", err)
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}
