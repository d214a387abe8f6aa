package sync

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	gosync "sync"
	"sync/atomic"

	sdklogger "github.com/databricks/databricks-sdk-go/logger"

	"github.com/bitbricks/bitbricks/config"
)

// RedactCredentials hides every credential-shaped value in s (a Databricks
// token or OAuth secret, an Atlassian token, a JWT) as "dapi…1a2b". Every
// line bitbricks prints passes through it, so a value typed where a name
// belongs is never echoed.
func RedactCredentials(s string) string { return config.RedactCredentials(s) }

// LooksLikeCredential reports whether s holds a credential-shaped value, and
// which kind ("a Databricks personal access token").
func LooksLikeCredential(s string) (what string, ok bool) { return config.LooksLikeCredential(s) }

// secretField matches a secret-named field with its value in JSON or
// key=value text, the value possibly cut short by a debug truncation.
var secretField = regexp.MustCompile(`(?i)("?(?:secret|client_secret|token_value|access_token|refresh_token|id_token|password|token|string_value|value|api_key|apikey)"?\s*[:=]\s*)("[^"\n]*"?|[^\s,}&"]+)`)

// authHeader matches an Authorization (or proxy, or token) header and its value.
var authHeader = regexp.MustCompile(`(?i)((?:proxy-)?authorization|x-databricks-[a-z-]*token|x-api-key|cookie)(\s*[:=]\s*)[^\n]*`)

// Scrub hides the secrets in debug text from the SDKs: the values of
// secret-named fields (secret, client_secret, token_value, access_token, …),
// Authorization headers, and anything credential-shaped.
func Scrub(s string) string {
	s = authHeader.ReplaceAllString(s, "${1}${2}**REDACTED**")
	s = secretField.ReplaceAllString(s, `${1}"**REDACTED**"`)
	return RedactCredentials(s)
}

// SDKLogger is the Databricks SDK's logger for bitbricks: at debug, every
// message is scrubbed (Scrub) before it is written to w; otherwise only
// errors are written, scrubbed too. The SDK redacts token_value but not an
// OAuth secret, and with DATABRICKS_DEBUG_HEADERS it writes Authorization.
func SDKLogger(w io.Writer, debug bool) sdklogger.Logger {
	l := &scrubLogger{w: w, level: sdklogger.LevelError}
	if debug {
		l.level = sdklogger.LevelDebug
	}
	return l
}

type scrubLogger struct {
	mu    gosync.Mutex
	w     io.Writer
	level sdklogger.Level
}

func (l *scrubLogger) Enabled(_ context.Context, level sdklogger.Level) bool { return level >= l.level }

func (l *scrubLogger) logf(level sdklogger.Level, tag, format string, v ...any) {
	if level < l.level {
		return
	}
	msg := Scrub(fmt.Sprintf(format, v...))
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "[%s] %s\n", tag, msg)
}

func (l *scrubLogger) Tracef(_ context.Context, format string, v ...any) {
	l.logf(sdklogger.LevelTrace, "TRACE", format, v...)
}
func (l *scrubLogger) Debugf(_ context.Context, format string, v ...any) {
	l.logf(sdklogger.LevelDebug, "DEBUG", format, v...)
}
func (l *scrubLogger) Infof(_ context.Context, format string, v ...any) {
	l.logf(sdklogger.LevelInfo, "INFO", format, v...)
}
func (l *scrubLogger) Warnf(_ context.Context, format string, v ...any) {
	l.logf(sdklogger.LevelWarn, "WARN", format, v...)
}
func (l *scrubLogger) Errorf(_ context.Context, format string, v ...any) {
	l.logf(sdklogger.LevelError, "ERROR", format, v...)
}

// The SDK has one process-wide logger. bitbricks installs one that forwards
// to whichever SDKLogger UseSDKLogger last named, so that a command (or a
// test running several commands at once) changes the target without
// writing the SDK's variable again; every SDK message is scrubbed from the
// start, to stderr at error level until a command says where.
var sdkTarget atomic.Pointer[scrubLogger]

func init() {
	sdkTarget.Store(&scrubLogger{w: os.Stderr, level: sdklogger.LevelError})
	sdklogger.DefaultLogger = forwardLogger{}
}

// UseSDKLogger points the SDK's logging at w (see SDKLogger).
func UseSDKLogger(w io.Writer, debug bool) {
	sdkTarget.Store(SDKLogger(w, debug).(*scrubLogger))
}

type forwardLogger struct{}

func (forwardLogger) Enabled(ctx context.Context, level sdklogger.Level) bool {
	return sdkTarget.Load().Enabled(ctx, level)
}
func (forwardLogger) Tracef(ctx context.Context, format string, v ...any) {
	sdkTarget.Load().Tracef(ctx, format, v...)
}
func (forwardLogger) Debugf(ctx context.Context, format string, v ...any) {
	sdkTarget.Load().Debugf(ctx, format, v...)
}
func (forwardLogger) Infof(ctx context.Context, format string, v ...any) {
	sdkTarget.Load().Infof(ctx, format, v...)
}
func (forwardLogger) Warnf(ctx context.Context, format string, v ...any) {
	sdkTarget.Load().Warnf(ctx, format, v...)
}
func (forwardLogger) Errorf(ctx context.Context, format string, v ...any) {
	sdkTarget.Load().Errorf(ctx, format, v...)
}
