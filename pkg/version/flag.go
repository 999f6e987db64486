package version

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/pflag"
)

// Request is what --version asked for: nothing, the version line, or the
// whole stamp (--version=raw).
type Request string

const (
	NotRequested Request = "false"
	Requested    Request = "true"
	Raw          Request = "raw"
)

var _ pflag.Value = new(Request)

// Set accepts what a boolean flag accepts, and "raw".
func (r *Request) Set(s string) error {
	if s == string(Raw) {
		*r = Raw
		return nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("want true, false or raw, got %q", s)
	}
	*r = NotRequested
	if b {
		*r = Requested
	}
	return nil
}

func (r *Request) String() string { return string(*r) }

// Type names the value in --help.
func (r *Request) Type() string { return "version" }

// AddFlag adds --version to fs; a bare --version means true.
func AddFlag(fs *pflag.FlagSet, r *Request) {
	*r = NotRequested
	fs.Var(r, "version", "Print the version and quit; --version=raw prints the whole build stamp.")
	fs.Lookup("version").NoOptDefVal = string(Requested)
}

// Print writes what r asks for to w as program's version and reports whether
// it wrote anything (the caller then quits).
func Print(w io.Writer, program string, r Request) bool {
	switch r {
	case Requested:
		fmt.Fprintf(w, "%s %s\n", program, Get().GitVersion)
	case Raw:
		fmt.Fprintf(w, "%#v\n", Get())
	default:
		return false
	}
	return true
}
