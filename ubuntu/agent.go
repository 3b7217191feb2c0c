package ubuntu

import "regexp"

// AgentTarballRe matches the Ubuntu 16.04 agent's tarball names:
// Microsoft-ASR_UA_9.x.y.z_UBUNTU-16.04-64_GA_<date>_release.tar.gz, or
// the configuration server's latestlinuxmobsvc.tar.gz. Which versions go
// on Ubuntu 16.04 (9.10 and later) is ASR's rule, checked before any phase
// (provision.AgentRules).
var AgentTarballRe = regexp.MustCompile(`^(latestlinuxmobsvc\.tar\.gz|Microsoft-ASR_UA_([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)_UBUNTU-16\.04-64_GA_[0-9A-Za-z]+_release\.tar\.gz)$`)
