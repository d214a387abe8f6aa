// Command bitbricks keeps Databricks access in step with Bitbucket: a
// terminal console for admins and a headless `sync --apply` for pipelines.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Stamped by the release build (-ldflags "-X main.version=...").
var (
	version = "dev"
	commit  = ""
	date    = ""
)

func main() {
	quietSDK()
	keepGoingOnBrokenPipe()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, newIO(), os.Args[1:])
	stop()
	os.Exit(code)
}

// keepGoingOnBrokenPipe makes a write to a closed pipe (`bitbricks revoke
// --leaked | head`) an error the output ignores rather than the end of the
// process: a run killed that way would stop halfway through a revocation
// and leave its write lock held until the lease expires.
func keepGoingOnBrokenPipe() { signal.Ignore(syscall.SIGPIPE) }
