package provision

import (
	"strings"
	"testing"
)

func TestAgentRules(t *testing.T) {
	const tb = "./Microsoft-ASR_UA_x_RHEL6-64_GA.tar.gz"
	cases := []struct {
		name string
		in   AgentRuleInput
		want string // "" allowed; else the refusal's key and a part of its problem
	}{
		{"9.3 new on CentOS", AgentRuleInput{OS: "centos-6.6", Version: "9.3.0.0"}, ""},
		{"8.4 new on CentOS", AgentRuleInput{OS: "centos-6.6", Version: "8.4.0.0"}, ""},
		{"9.9 new on CentOS", AgentRuleInput{OS: "centos-6.6", Version: "9.9.4907.1"}, ""},
		{"9.10 new on CentOS, MT not there", AgentRuleInput{OS: "centos-6.6", Version: "9.10.0.0"}, "allowed only as an upgrade"},
		{"9.10 on CentOS, MT without agent", AgentRuleInput{OS: "centos-6.6", Version: "9.10.0.0", MTReached: true}, "this MT has no agent yet"},
		{"9.10 upgrade of 9.9", AgentRuleInput{OS: "centos-6.6", Version: "9.10.0.0", Installed: "9.9.0.0", MTReached: true}, ""},
		{"9.10.1 upgrade of 9.10.0", AgentRuleInput{OS: "centos-6.6", Version: "9.10.1.0", Installed: "9.10.0.0", MTReached: true}, ""},
		{"9.10 already there (a re-run)", AgentRuleInput{OS: "centos-6.6", Version: "9.10.0.0", Installed: "9.10.0.0", MTReached: true}, ""},
		{"9.10 prerelease", AgentRuleInput{OS: "centos-6.6", Version: "9.10.0.0-beta"}, "allowed only as an upgrade"},
		{"9.11 on CentOS", AgentRuleInput{OS: "centos-6.6", Version: "9.11.0.0"}, "agent.tarball: agent 9.11.0.0"},
		{"9.11 upgrade on CentOS", AgentRuleInput{OS: "centos-6.6", Version: "9.11.0.0", Installed: "9.9", MTReached: true}, "only on Ubuntu 16.04"},
		{"9.50 on CentOS", AgentRuleInput{OS: "centos-6.6", Version: "9.50.6419.1"}, "only on Ubuntu 16.04"},
		{"10.0 on CentOS", AgentRuleInput{OS: "centos-6.6", Version: "10.0"}, "only on Ubuntu 16.04"},
		{"9.11 on Ubuntu", AgentRuleInput{OS: "ubuntu-16.04", Version: "9.11.0.0"}, ""},
		{"9.10 new on Ubuntu", AgentRuleInput{OS: "ubuntu-16.04", Version: "9.10.0.0"}, ""},
		{"9.9 on Ubuntu", AgentRuleInput{OS: "ubuntu-16.04", Version: "9.9.4907.1"}, "the Ubuntu 16.04 master target starts with 9.10.0"},
		{"RHEL6 build on Ubuntu", AgentRuleInput{OS: "ubuntu-16.04", Version: "9.20.0.0", Tarball: "Microsoft-ASR_UA_9.20.0.0_RHEL6-64_GA_01Jan2019_release.tar.gz"}, "is the RHEL6-64 build"},
		{"Ubuntu build on CentOS", AgentRuleInput{OS: "centos-6.6", Version: "9.9.0.0", Tarball: "Microsoft-ASR_UA_9.9.0.0_UBUNTU-16.04-64_GA_01Jan2018_release.tar.gz"}, "for os: ubuntu-16.04, not centos-6.6"},
		{"Ubuntu build on Ubuntu", AgentRuleInput{OS: "ubuntu-16.04", Version: "9.20.0.0", Tarball: "Microsoft-ASR_UA_9.20.0.0_UBUNTU-16.04-64_GA_01Jan2019_release.tar.gz"}, ""},
		{"any version on Windows", AgentRuleInput{OS: "windows-2016", Version: "9.30.0.0", Tarball: "Microsoft-ASR_UA_9.30.0.0_Windows_GA_01Jan2020_Release.exe"}, ""},
		{"no version", AgentRuleInput{OS: "centos-6.6"}, "agent.tarball: cannot tell"},
		{"bad version", AgentRuleInput{OS: "centos-6.6", Version: "latest"}, "cannot tell"},
		{"same as CS", AgentRuleInput{OS: "centos-6.6", Version: "9.3.0.0", CSVersion: "9.3.0.0"}, ""},
		{"older than CS", AgentRuleInput{OS: "centos-6.6", Version: "9.3.0.0", CSVersion: "9.30.5407.1"}, ""},
		{"newer than CS", AgentRuleInput{OS: "centos-6.6", Version: "9.3.0.0", CSVersion: "9.2.4500.1"}, "agent.tarball: agent 9.3.0.0 (Microsoft-ASR_UA_x_RHEL6-64_GA.tar.gz) is newer than the configuration server's 9.2.4500.1"},
		{"bad CS version", AgentRuleInput{OS: "centos-6.6", Version: "9.3.0.0", CSVersion: "nine"}, "configServer.version: \"nine\""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.in.Tarball == "" {
				c.in.Tarball = tb
				if c.in.OS == "ubuntu-16.04" {
					c.in.Tarball = "Microsoft-ASR_UA_x_UBUNTU-16.04-64_GA.tar.gz"
				}
			}
			r := AgentRules(c.in)
			switch {
			case c.want == "" && r != nil:
				t.Fatalf("refused: %s: %s", r.Key, r.Problem)
			case c.want == "":
				return
			case r == nil:
				t.Fatalf("allowed, want a refusal with %q", c.want)
			}
			got := r.Key + ": " + r.Problem
			if !strings.Contains(got, c.want) {
				t.Errorf("refusal %q, want it to contain %q", got, c.want)
			}
			if r.Fix == "" {
				t.Error("a refusal without a fix")
			}
		})
	}
}

func TestAgentVersionFromName(t *testing.T) {
	for name, want := range map[string]string{
		"Microsoft-ASR_UA_9.10.0.0_RHEL6-64_GA_14Jul2017_release.tar.gz": "9.10.0.0",
		"/x/Microsoft-ASR_UA_9.3.0.0_RHEL6-64_GA_standin.tar.gz":         "9.3.0.0",
		"./ASR_UA_RHEL6-64.tar.gz":                                       "",
	} {
		if got := AgentVersion(name); got != want {
			t.Errorf("AgentVersion(%q) = %q, want %q", name, got, want)
		}
	}
}
