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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, newIO(), os.Args[1:])
	stop()
	os.Exit(code)
}
