package chrometest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// AxeEnv is the environment variable that names axe-core's axe.min.js for
// AxeSource. When it is unset, AxeSource looks for
// .cache/axe-core/axe.min.js at the top of the repository, where .ci/run
// installs it from npm (the directory is not tracked by git).
const AxeEnv = "AMLIVE_AXE"

// axeCachePath is where .ci/run puts axe.min.js, relative to the top of
// the repository.
const axeCachePath = ".cache/axe-core/axe.min.js"

// AxeSource returns the source of axe-core's axe.min.js, from the file
// named by AxeEnv or else from .cache/axe-core/axe.min.js at the top of the
// repository (the directory above the test's that holds go.mod). When
// there is none, it fails tb if the environment variable CI is "true" (CI
// must run the accessibility checks) and skips tb otherwise, as ExecPath
// does without Chromium.
func AxeSource(tb testing.TB) string {
	tb.Helper()
	path := os.Getenv(AxeEnv)
	if path == "" {
		if root, ok := repoRoot(); ok {
			path = filepath.Join(root, axeCachePath)
		}
	}
	if path != "" {
		src, err := os.ReadFile(path)
		if err == nil && len(src) > 0 {
			return string(src)
		}
	}
	msg := fmt.Sprintf("axe-core not found (%s=%q, or %s at the top of the repository); install it with: npm install --no-save --prefix .cache/axe-core axe-core@4.14.1 && cp .cache/axe-core/node_modules/axe-core/axe.min.js .cache/axe-core/ (as .ci/run does)", AxeEnv, os.Getenv(AxeEnv), axeCachePath)
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
	return ""
}

// repoRoot returns the nearest directory at or above the working
// directory that holds go.mod.
func repoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

// AxeViolation is one rule that axe-core found broken in a page, with the
// elements that break it.
type AxeViolation struct {
	ID      string    `json:"id"`      // the rule, such as "color-contrast"
	Impact  string    `json:"impact"`  // "minor", "moderate", "serious" or "critical"
	Help    string    `json:"help"`    // what the rule asks for
	HelpURL string    `json:"helpUrl"` // the rule's documentation
	Nodes   []AxeNode `json:"nodes"`   // the elements that break it
}

// AxeNode is one element that breaks an AxeViolation's rule.
type AxeNode struct {
	Target  string `json:"target"`  // the element's CSS selector (frames and shadow roots joined by " >>> ")
	Impact  string `json:"impact"`  // this element's impact
	Summary string `json:"summary"` // axe-core's failure summary: what to fix
}

// AxeExclusion excepts one element from one rule in CheckAccessibility:
// a known violation that the test cannot fix where it runs. Why names
// the follow-up that fixes it.
type AxeExclusion struct {
	Rule   string // the rule ID, such as "color-contrast"
	Target string // the element's selector exactly as AxeNode.Target gives it
	Why    string // the follow-up that removes the exclusion
}

// jsAxeRun runs axe-core on the document and returns its violations in
// the shape of []AxeViolation.
const jsAxeRun = `axe.run(document, {resultTypes: ['violations']}).then((r) => r.violations.map((v) => ({
  id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl,
  nodes: v.nodes.map((n) => ({
    target: n.target.map((s) => Array.isArray(s) ? s.join(' >>> ') : String(s)).join(' >>> '),
    impact: n.impact || '', summary: n.failureSummary || '',
  })),
})))`

// Axe injects axe-core's source src (from AxeSource) into the tab's
// current page, if it is not there yet, and returns what axe.run finds
// wrong with the whole document, at every impact.
func (t *Tab) Axe(src string) []AxeViolation {
	t.tb.Helper()
	if !Eval[bool](t, `typeof window.axe === 'object'`) {
		if got := Eval[string](t, src+"\n;typeof window.axe"); got != "object" {
			t.tb.Fatalf("%s: axe-core did not load: typeof window.axe is %q", t.name, got)
		}
	}
	return Eval[[]AxeViolation](t, jsAxeRun)
}

// Serious reports whether an impact is one CheckAccessibility fails on:
// "serious" or "critical".
func Serious(impact string) bool { return impact == "serious" || impact == "critical" }

// CheckAccessibility runs axe-core (src, from AxeSource) on the tab's
// current page and reports on tb (t.Error, so the test goes on) every
// element that breaks a rule with a serious or critical impact, unless
// except lists that rule and element: the rule, impact, selector, help
// text and axe-core's summary of the fix. Violations of less impact are
// logged. It returns the serious violations it reported.
func CheckAccessibility(tb testing.TB, t *Tab, src string, except ...AxeExclusion) []AxeViolation {
	tb.Helper()
	var reported []AxeViolation
	for _, v := range t.Axe(src) {
		kept := v
		kept.Nodes = nil
		for _, n := range v.Nodes {
			impact := n.Impact
			if impact == "" {
				impact = v.Impact
			}
			if !Serious(impact) {
				tb.Logf("%s: axe %s (%s): %s: %s", t.name, v.ID, impact, n.Target, v.Help)
				continue
			}
			if excepted(except, v.ID, n.Target) {
				tb.Logf("%s: axe %s (%s) at %s excepted", t.name, v.ID, impact, n.Target)
				continue
			}
			kept.Nodes = append(kept.Nodes, n)
		}
		if len(kept.Nodes) == 0 {
			continue
		}
		reported = append(reported, kept)
		var b strings.Builder
		for _, n := range kept.Nodes {
			fmt.Fprintf(&b, "\n    %s (%s)\n      %s", n.Target, n.Impact, strings.ReplaceAll(n.Summary, "\n", "\n      "))
		}
		tb.Errorf("%s: accessibility: %s (%s): %s (%s)%s", t.name, v.ID, v.Impact, v.Help, v.HelpURL, b.String())
	}
	return reported
}

// excepted reports whether except lists rule at target.
func excepted(except []AxeExclusion, rule, target string) bool {
	for _, e := range except {
		if e.Rule == rule && e.Target == target {
			return true
		}
	}
	return false
}

// String formats v as CheckAccessibility reports it, on one line.
func (v AxeViolation) String() string {
	targets := make([]string, len(v.Nodes))
	for i, n := range v.Nodes {
		targets[i] = n.Target
	}
	b, _ := json.Marshal(targets)
	return fmt.Sprintf("%s (%s) at %s: %s", v.ID, v.Impact, b, v.Help)
}
