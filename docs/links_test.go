package docs

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"
)

// linkRE matches a Markdown link or image, [text](target) or
// [text](target "title"), and captures the target.
var linkRE = regexp.MustCompile(`\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)

// inlineCodeRE matches a code span, whose text is not Markdown.
var inlineCodeRE = regexp.MustCompile("`+[^`]*`+")

// headingRE matches an ATX heading and captures its text.
var headingRE = regexp.MustCompile(`^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$`)

// markdownFiles are the files the test reads: README.md, CHANGELOG.md and docs/*.md,
// as paths relative to the module root.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"README.md", "CHANGELOG.md"}
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		rel, err := filepath.Rel(root, d)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, rel)
	}
	sort.Strings(files)
	return files
}

// prose returns the file's lines outside fenced code blocks, with their
// line numbers; code blocks hold commands and transcripts, not Markdown.
func prose(text string) (lines []string, numbers []int) {
	fence := ""
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		if fence != "" {
			if strings.HasPrefix(trimmed, fence) && strings.Trim(trimmed, fence[:1]+" ") == "" {
				fence = ""
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") || strings.HasPrefix(trimmed, "~~~") {
			fence = trimmed[:3]
			continue
		}
		lines = append(lines, line)
		numbers = append(numbers, i+1)
	}
	return lines, numbers
}

// anchor is GitHub's anchor for a heading: lower case, spaces to '-', and
// every character but letters, digits, '-' and '_' removed.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// anchors lists the anchors of a Markdown file's headings; a repeated
// heading gets GitHub's "-1", "-2", … suffix.
func anchors(text string) map[string]bool {
	out := map[string]bool{}
	seen := map[string]int{}
	lines, _ := prose(text)
	for _, line := range lines {
		m := headingRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		a := anchor(m[1])
		if n := seen[a]; n > 0 {
			out[fmt.Sprintf("%s-%d", a, n)] = true
		} else {
			out[a] = true
		}
		seen[a]++
	}
	return out
}

// link is one relative link found in a file.
type link struct {
	file   string // the linking file, relative to the module root
	line   int
	target string // as written
}

func links(file, text string) []link {
	var out []link
	lines, numbers := prose(text)
	for i, line := range lines {
		line = inlineCodeRE.ReplaceAllString(line, "")
		for _, m := range linkRE.FindAllStringSubmatch(line, -1) {
			target := m[1]
			lower := strings.ToLower(target)
			if strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") || strings.HasPrefix(lower, "mailto:") {
				continue
			}
			out = append(out, link{file: file, line: numbers[i], target: target})
		}
	}
	return out
}

func TestRelativeLinksResolve(t *testing.T) {
	root := ".."
	var all []link
	for _, f := range markdownFiles(t, root) {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, links(f, string(b))...)
	}
	if len(all) == 0 {
		t.Fatal("no relative links found: the parser is broken")
	}
	headings := map[string]map[string]bool{} // by file, relative to root
	for _, l := range all {
		path, fragment, _ := strings.Cut(l.target, "#")
		target := l.file
		if path != "" {
			target = filepath.Join(filepath.Dir(l.file), filepath.FromSlash(path))
		}
		info, err := os.Stat(filepath.Join(root, target))
		if err != nil {
			t.Errorf("%s:%d: link %q: %s does not exist", l.file, l.line, l.target, filepath.ToSlash(target))
			continue
		}
		if fragment == "" {
			continue
		}
		if info.IsDir() || !strings.HasSuffix(target, ".md") {
			t.Errorf("%s:%d: link %q: a fragment into %s, which is not a Markdown file", l.file, l.line, l.target, filepath.ToSlash(target))
			continue
		}
		if headings[target] == nil {
			b, err := os.ReadFile(filepath.Join(root, target))
			if err != nil {
				t.Fatal(err)
			}
			headings[target] = anchors(string(b))
		}
		if !headings[target][fragment] {
			t.Errorf("%s:%d: link %q: %s has no heading with anchor #%s", l.file, l.line, l.target, filepath.ToSlash(target), fragment)
		}
	}
	t.Logf("checked %d relative links", len(all))
}

func TestAnchor(t *testing.T) {
	for heading, want := range map[string]string{
		"Before every deploy: the replay check (`cmd/replaycheck`)": "before-every-deploy-the-replay-check-cmdreplaycheck",
		"Where is this user's session? (Web UI)":                    "where-is-this-users-session-web-ui",
		"R9 Bounds and refused input":                               "r9-bounds-and-refused-input",
		"`cmd/dev`":                                                 "cmddev",
		"Toolchain and known vulnerabilities":                       "toolchain-and-known-vulnerabilities",
		"snake_case and-dashes":                                     "snake_case-and-dashes",
	} {
		if got := anchor(heading); got != want {
			t.Errorf("anchor(%q) = %q, want %q", heading, got, want)
		}
	}
}

func TestLinksSkipsCodeAndExternal(t *testing.T) {
	text := "[a](a.md) [b](https://x.org) [m](mailto:x@y) `[c](c.md)` ![img](p.png \"t\")\n" +
		"```\n[d](d.md)\n# not a heading\n```\n[e](#e)\n"
	var got []string
	for _, l := range links("f.md", text) {
		got = append(got, l.target)
	}
	want := []string{"a.md", "p.png", "#e"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("links = %q, want %q", got, want)
	}
	if a := anchors("# A\n```\n# B\n```\n## A\n"); !a["a"] || !a["a-1"] || a["b"] {
		t.Errorf("anchors = %v, want a and a-1, not b", a)
	}
}
