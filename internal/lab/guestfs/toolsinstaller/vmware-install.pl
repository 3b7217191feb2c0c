#!/usr/bin/perl
# mtlab STAND-IN for vmware-install.pl of VMware Tools 10.3.x for legacy
# Linux guests (the tarball on ESXi 7/8's linux.iso), as the lab's Tools
# installer CD carries it (internal/lab/toolsinstaller.go). It models only
# what mtprep uses and what would stop it:
#   - the non-interactive form only: --default (or -d); anything else is
#     refused (the real one asks its questions);
#   - root only;
#   - it refuses to install while an open-vm-tools RPM is installed, as the
#     real installer does (VMware recommends open-vm-tools where the OS
#     vendor ships it);
#   - it installs the lab's stand-in daemon /usr/bin/vmtoolsd exactly where
#     the lab's open-vm-tools test RPM puts it (the lab's vCenter reports
#     Tools running while it runs), /usr/bin/vmware-toolbox-cmd (-v prints
#     the version), the SysV script /etc/rc.d/init.d/vmware-tools (on in
#     runlevels 2, 3 and 5 through chkconfig --add), the tar installer's
#     database /etc/vmware-tools/locations, and starts the service.
# It builds no kernel module, installs no libraries, plugins or
# vmware-uninstall-tools.pl, and talks to no hypervisor. Lab stand-in; not
# VMware's installer. Perl 5.10 (CentOS 6) compatible.
use strict;
use warnings;
use FindBin;
use File::Copy qw(copy);
use File::Path qw(mkpath);

my $default = 0;
for my $a (@ARGV) {
    if ($a eq '--default' || $a eq '-d' || $a eq 'default') {
        $default = 1;
    } else {
        print STDERR "vmware-install.pl (mtlab stand-in): option $a is not modelled\n";
        exit 1;
    }
}
if (!$default) {
    print STDERR "vmware-install.pl (mtlab stand-in): only the non-interactive install is modelled; run ./vmware-install.pl --default\n";
    exit 1;
}
if ($> != 0) {
    print STDERR "Please re-run this program as the super user.\n";
    exit 1;
}
if (system('rpm -q open-vm-tools >/dev/null 2>&1') == 0) {
    print STDERR "open-vm-tools packages are available from the OS vendor and VMware recommends using open-vm-tools packages. See http://kb.vmware.com/kb/2073803 for more information.\n";
    print STDERR "The installation of VMware Tools did not proceed: open-vm-tools is installed (rpm -q open-vm-tools). Remove it first.\n";
    exit 1;
}

my $src = $FindBin::Bin;
my $version = do { local $/; open(my $f, '<', "$src/VERSION") or die "VERSION: $!\n"; <$f> };
chomp $version;
my @files = (
    ["$src/bin/vmtoolsd", '/usr/bin/vmtoolsd', 0755],
    ["$src/bin/vmware-toolbox-cmd", '/usr/bin/vmware-toolbox-cmd', 0755],
    ["$src/etc/init.d/vmware-tools", '/etc/rc.d/init.d/vmware-tools', 0755],
);
print "Installing VMware Tools $version (mtlab stand-in).\n";
mkpath('/etc/vmware-tools');
open(my $db, '>', '/etc/vmware-tools/locations') or die "/etc/vmware-tools/locations: $!\n";
print $db "answer BINDIR /usr/bin\nanswer INITDIR /etc/rc.d\nanswer INITSCRIPTSDIR /etc/rc.d/init.d\ndirectory /etc/vmware-tools\n";
for my $f (@files) {
    my ($from, $to, $mode) = @$f;
    copy($from, $to) or die "copying $from to $to: $!\n";
    chmod($mode, $to) or die "chmod $to: $!\n";
    print $db "file $to\n";
}
close($db) or die "/etc/vmware-tools/locations: $!\n";
system('/sbin/chkconfig', '--add', 'vmware-tools') == 0 or die "chkconfig --add vmware-tools failed\n";
system('/sbin/service', 'vmware-tools', 'start') == 0 or die "service vmware-tools start failed\n";
print "The configuration of VMware Tools $version for Linux for this running kernel completed successfully.\n\n";
print "Enjoy,\n\n--the VMware team\n";
exit 0;
