package audit

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Failed reports whether any finding is a FAIL (audit exits 1).
func Failed(fs []Finding) bool {
	for _, f := range fs {
		if f.Result == Fail {
			return true
		}
	}
	return false
}

// WriteTable writes findings as an aligned table; colour only when asked
// (on a terminal).
func WriteTable(w io.Writer, fs []Finding, colour bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tCHECK\tRESULT\tREASON\tFIX")
	for _, f := range fs {
		res := f.Result
		if colour {
			res = map[string]string{Pass: "\x1b[32mPASS\x1b[0m", Warn: "\x1b[33mWARN\x1b[0m", Fail: "\x1b[31mFAIL\x1b[0m", Unknown: "\x1b[90mUNKNOWN\x1b[0m", NotApplicable: "\x1b[90mN/A\x1b[0m"}[f.Result]
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Host, f.ID, res, oneLine(f.Reason), oneLine(f.Fix))
	}
	return tw.Flush()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// Schema names the JSON report's shape; a change that breaks a
// reader gets a new version.
const Schema = "mtprep.audit/v1"

// Report is the JSON document (schema in docs/AUDIT.md).
type Report struct {
	Schema   string         `json:"schema"`
	Summary  map[string]int `json:"summary"`
	Findings []Finding      `json:"findings"`
}

// WriteJSON writes the JSON report.
func WriteJSON(w io.Writer, fs []Finding) error {
	r := Report{Schema: Schema, Summary: map[string]int{Pass: 0, Warn: 0, Fail: 0, Unknown: 0}, Findings: fs}
	for _, f := range fs {
		r.Summary[f.Result]++
	}
	if r.Findings == nil {
		r.Findings = []Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes one test suite per host and one test case per check:
// FAIL is a failure, UNKNOWN is skipped, WARN passes with its reason in
// system-out.
func WriteJUnit(w io.Writer, fs []Finding) error {
	var doc junitSuites
	idx := map[string]int{}
	for _, f := range fs {
		i, ok := idx[f.Host]
		if !ok {
			i = len(doc.Suites)
			idx[f.Host] = i
			doc.Suites = append(doc.Suites, junitSuite{Name: "mtprep audit " + f.Host})
		}
		s := &doc.Suites[i]
		c := junitCase{Name: f.ID, Classname: "mtprep.audit." + f.Host, SystemOut: f.Result + ": " + f.Reason}
		switch f.Result {
		case Fail:
			c.Failure = &junitMessage{Message: f.Reason, Text: "fix: " + f.Fix}
			s.Failures++
			doc.Failures++
		case Unknown, NotApplicable:
			c.Skipped = &junitMessage{Message: f.Reason}
			s.Skipped++
		}
		s.Tests++
		doc.Tests++
		s.Cases = append(s.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
