// Package tap is cleave's stand-in for the small TAP (Test Anything Protocol, version 13)
// writer that the OCI runtime-tools validation programs import as github.com/mndrix/tap-go.
// Debian does not package that library; scripts/runtime-tools.sh puts this directory at that
// import path. Only what the validation programs and runtimetest call is here: a plan (given
// up front or printed at the end), ok / not ok lines, skips, comments and a YAML block.
package tap

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// T writes one TAP stream.
type T struct {
	// next is shared with the writers Todo returns: one numbering for the stream.
	next *int
	// Writer receives the stream (standard output unless changed).
	Writer io.Writer
	// TODO marks the following results as TODO items (a failure then fails nothing).
	TODO bool
}

// New returns a writer on standard output with no test counted yet.
func New() *T {
	first := 1
	return &T{next: &first, Writer: os.Stdout}
}

func (t *T) printf(format string, a ...interface{}) {
	fmt.Fprintf(t.Writer, format, a...)
}

// Header prints the version line and, when count is positive, the plan.
func (t *T) Header(count int) {
	t.printf("TAP version 13\n")
	if count > 0 {
		t.printf("1..%d\n", count)
	}
}

// Ok records one result.
func (t *T) Ok(test bool, description string) {
	word := "ok"
	if !test {
		word = "not ok"
	}
	directive := ""
	if t.TODO {
		directive = " # TODO"
	}
	t.printf("%s %d - %s%s\n", word, *t.next, oneLine(description), directive)
	*t.next++
}

// Pass records a passing result.
func (t *T) Pass(description string) { t.Ok(true, description) }

// Fail records a failing result.
func (t *T) Fail(description string) { t.Ok(false, description) }

// Skip records count skipped results with the reason.
func (t *T) Skip(count int, description string) {
	for i := 0; i < count; i++ {
		t.printf("ok %d # SKIP %s\n", *t.next, oneLine(description))
		*t.next++
	}
}

// Count says how many results have been recorded.
func (t *T) Count() int { return *t.next - 1 }

// Todo returns a writer on the same stream whose results are TODO items.
func (t *T) Todo() *T {
	return &T{next: t.next, Writer: t.Writer, TODO: true}
}

// AutoPlan prints the plan after the results: the caller ends the stream with it.
func (t *T) AutoPlan() {
	t.printf("1..%d\n", t.Count())
}

// Diagnostic prints a comment line per line of message.
func (t *T) Diagnostic(message string) {
	for _, line := range strings.Split(strings.TrimRight(message, "\n"), "\n") {
		t.printf("# %s\n", line)
	}
}

// Diagnosticf formats a comment.
func (t *T) Diagnosticf(format string, a ...interface{}) {
	t.Diagnostic(fmt.Sprintf(format, a...))
}

// YAML prints message as a YAML block attached to the previous result. JSON is YAML, so the
// block is written as indented JSON and needs no YAML library.
func (t *T) YAML(message interface{}) error {
	text, err := json.MarshalIndent(message, "  ", "  ")
	if err != nil {
		return err
	}
	t.printf("  ---\n  %s\n  ...\n", text)
	return nil
}

func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", " ")
}
