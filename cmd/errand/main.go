// Command errand runs the errand server.
//
//	errand dev       SQLite under ./.errand, port 8288, any event key
//	errand start     production: --database-url and keys required
//	errand migrate   apply database migrations and exit
//	errand bench     burn down no-op jobs and report jobs_per_sec
//	errand version   print the version
//
// Every flag can also be set with an ERRAND_* environment variable
// (--database-url is ERRAND_DATABASE_URL); flags win.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Version is set at build time with -ldflags "-X main.Version=...".
var Version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "errand:", err)
		os.Exit(1)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `errand: background jobs that run on behalf of signed-in users

Usage:
  errand dev      [flags]   run locally: SQLite in ./.errand, port 8288, dev keys
  errand start    [flags]   run in production: --database-url, --event-key, --signing-key required
  errand migrate  [flags]   apply database migrations and exit
  errand bench    [flags]   benchmark: jobs_per_sec, or enqueue→start latency with --mode latency
  errand version            print the version

Run "errand <command> -h" for the flags of a command.
`)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return fmt.Errorf("a command is required")
	}
	switch args[0] {
	case "dev", "start":
		m := NewMain(stdout, stderr)
		if err := m.ParseFlags(args[0], args[1:]); err != nil {
			return err
		}
		if err := m.Run(ctx); err != nil {
			return err
		}
		<-ctx.Done()
		return m.Close()
	case "migrate":
		m := NewMain(stdout, stderr)
		if err := m.ParseFlags("migrate", args[1:]); err != nil {
			return err
		}
		return m.Migrate(ctx)
	case "bench":
		return bench(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "errand", Version)
		return nil
	case "help", "-h", "--help":
		usage(stdout)
		return nil
	}
	usage(stderr)
	return fmt.Errorf("unknown command %q", args[0])
}
