package sync

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	gosync "sync"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/databricks/databricks-sdk-go/service/files"
)

// VolumeAudit is the audit log on a Unity Catalog volume, for pipelines
// whose artifacts do not carry over from run to run. The Files API cannot
// append, so each run writes one file of its own (named by its start time,
// so names sort in run order) and uploads it whole after every event; its
// first line links the last line of the previous run's file, so the chain
// goes on across scheduled runs.
type VolumeAudit struct {
	Dir   string // /Volumes/catalog/schema/volume[/path]
	Files files.FilesInterface
	Now   func() time.Time // nil: time.Now
	// PartLines bounds one file: a run with more lines goes on in a new
	// file linked to the last (0: 200), so no upload grows without bound.
	PartLines int

	mu   gosync.Mutex
	name string // this run's file; "" until the first event
	body []byte
	head AuditHead
}

// runFileLayout names a run's file by its start time.
const runFileLayout = "20060102T150405.000000000Z"

// auditRunAction is the first line of a run's file: the link to the
// previous run.
const auditRunAction = "audit_run"

func (v *VolumeAudit) Where() string { return strings.TrimSuffix(v.Dir, "/") + "/" }

func (v *VolumeAudit) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *VolumeAudit) Append(ctx context.Context, ev AuditEvent) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	name, body, head := v.name, v.body, v.head
	fresh := name == "" || head.Lines >= cmp.Or(v.PartLines, 200)
	if fresh {
		prev := head
		if name == "" {
			var err error
			if prev, err = v.lastRun(ctx); err != nil {
				return err
			}
		}
		t := v.now().UTC()
		name = t.Format(runFileLayout) + ".jsonl"
		if name <= prev.File {
			// Names sort in run order even on a coarse or stopped clock.
			if pt, err := time.Parse(runFileLayout, strings.TrimSuffix(prev.File, ".jsonl")); err == nil {
				name = pt.Add(time.Nanosecond).Format(runFileLayout) + ".jsonl"
			}
		}
		link := AuditEvent{Time: t, Operator: ev.Operator, Action: auditRunAction, Result: ResultApplied,
			Target: fmt.Sprintf("previous:%s lines:%d", cmp.Or(prev.File, "none"), prev.Lines)}
		line, err := sealLine(link, prev.Hash)
		if err != nil {
			return err
		}
		body = append(line, '\n')
		head = AuditHead{Lines: 1, Hash: hashLine(line), File: name}
	}
	line, err := sealLine(ev, head.Hash)
	if err != nil {
		return err
	}
	body = append(slices.Clip(body), append(line, '\n')...)
	// The first upload must not replace another run's file; later ones
	// replace this run's own.
	err = v.Files.Upload(ctx, files.UploadRequest{FilePath: path.Join(v.Dir, name), Contents: io.NopCloser(bytes.NewReader(body)),
		Overwrite: !fresh, ForceSendFields: []string{"Overwrite"}})
	if err != nil {
		return fmt.Errorf("upload %s: %w", path.Join(v.Dir, name), err)
	}
	v.name, v.body = name, body
	v.head = AuditHead{Lines: head.Lines + 1, Hash: hashLine(line), File: name}
	return nil
}

// Head is this run's head, or the previous run's when this run has written
// nothing yet.
func (v *VolumeAudit) Head(ctx context.Context) (AuditHead, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.name != "" {
		return v.head, nil
	}
	return v.lastRun(ctx)
}

// runFiles lists the run files of the log directory in run order; a
// directory that does not exist yet has none.
func runFiles(ctx context.Context, fs files.FilesInterface, dir string) ([]string, error) {
	entries, err := fs.ListDirectoryContentsAll(ctx, files.ListDirectoryContentsRequest{DirectoryPath: dir})
	if errors.Is(err, apierr.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list audit runs in %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDirectory && strings.HasSuffix(e.Name, ".jsonl") {
			names = append(names, e.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

func download(ctx context.Context, fs files.FilesInterface, p string) ([]byte, error) {
	resp, err := fs.Download(ctx, files.DownloadRequest{FilePath: p})
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", p, err)
	}
	defer resp.Contents.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Contents, 256<<20))
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", p, err)
	}
	return b, nil
}

// lastRun is the head of the newest run file (the empty chain when there is
// none).
func (v *VolumeAudit) lastRun(ctx context.Context) (AuditHead, error) {
	names, err := runFiles(ctx, v.Files, v.Dir)
	if err != nil || len(names) == 0 {
		return AuditHead{Hash: emptyChainHash}, err
	}
	last := names[len(names)-1]
	b, err := download(ctx, v.Files, path.Join(v.Dir, last))
	if err != nil {
		return AuditHead{}, err
	}
	body := bytes.TrimSuffix(b, []byte{'\n'})
	lines := bytes.Split(body, []byte{'\n'})
	if len(body) == 0 {
		lines = nil
	}
	h := AuditHead{Lines: len(lines), Hash: emptyChainHash, File: last}
	if len(lines) > 0 {
		h.Hash = hashLine(lines[len(lines)-1])
	}
	return h, nil
}

// VerifyVolumeAudit checks every run file in dir: each sealed and chained
// within, and each linked to the one before it. With head (as printed by an
// apply) it also checks that run's file ends there. It returns the newest
// run's head.
func VerifyVolumeAudit(ctx context.Context, fs files.FilesInterface, dir string, head *AuditHead) (AuditHead, error) {
	names, err := runFiles(ctx, fs, dir)
	if err != nil {
		return AuditHead{}, err
	}
	if len(names) == 0 {
		return AuditHead{}, fmt.Errorf("no audit runs in %s: nothing has been audited there yet; check audit.file", dir)
	}
	var prev string
	var got AuditHead
	found := head == nil
	for i, name := range names {
		p := path.Join(dir, name)
		b, err := download(ctx, fs, p)
		if err != nil {
			return got, err
		}
		if i == 0 {
			// The oldest file kept links to a run that may have been
			// archived: its link is where the chain starts.
			var first AuditEvent
			if line, _, _ := bytes.Cut(b, []byte{'\n'}); json.Unmarshal(line, &first) == nil {
				prev = first.Prev
			}
		}
		h, err := verifyChain(p, bytes.NewReader(b), prev)
		if err != nil {
			var ae *AuditError
			if errors.As(err, &ae) && ae.Line == 1 {
				ae.Msg = "does not link to the previous run's last line: a run file was deleted, or this one edited"
			}
			return got, err
		}
		got = AuditHead{Lines: h.Lines, Hash: h.Hash, File: name}
		if head != nil && head.File == name {
			found = true
			if err := checkHead(p, AuditHead{Lines: h.Lines, Hash: h.Hash}, AuditHead{Lines: head.Lines, Hash: head.Hash}); err != nil {
				return got, err
			}
		}
		prev = h.Hash
	}
	if !found {
		return got, fmt.Errorf("%s: the run file %s of the head is missing", dir, head.File)
	}
	return got, nil
}

// VerifyAudit checks the volume audit log of these sources (see
// VerifyVolumeAudit).
func (s Sources) VerifyAudit(ctx context.Context, head *AuditHead) (AuditHead, error) {
	v, ok := s.Audit.(*VolumeAudit)
	if !ok {
		return AuditHead{}, errors.New("the audit log is not on a volume")
	}
	return VerifyVolumeAudit(ctx, v.Files, v.Dir, head)
}
