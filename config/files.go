package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// MaxFileSize bounds a config or identity map file. Both are small by
// nature; anything bigger is a mistake (or a device, a log, a core dump), and
// refusing it before reading keeps memory and time bounded.
const MaxFileSize = 4 << 20

// ReadFile reads a config or identity map file, what naming it in errors
// ("config file", "identity map"). Only a regular file of at most
// MaxFileSize bytes is read: a FIFO, a device, a directory or a bigger file
// is refused before any byte is read (a FIFO would block forever, /dev/zero
// would never end), and so is a file holding NUL bytes, which no YAML text
// has.
func ReadFile(path, what string) ([]byte, error) {
	if err := checkFile(path, what); err != nil {
		return nil, err
	}
	f, err := openNoBlock(path)
	if err != nil {
		return nil, fmt.Errorf("%s %s cannot be opened: %w", what, path, errors.Unwrap(err))
	}
	defer f.Close()
	// Checked again on the open file: the name may have been swapped since.
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, path, err)
	}
	if err := checkInfo(path, what, fi); err != nil {
		return nil, err
	}
	src, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", what, path, errors.Unwrap(err))
	}
	if len(src) > MaxFileSize {
		return nil, fmt.Errorf("%s %s is larger than %d MiB: point at the right file", what, path, MaxFileSize>>20)
	}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		line := bytes.Count(src[:i], []byte("\n")) + 1
		return nil, &Error{File: path, Line: line, Col: i - bytes.LastIndexByte(src[:i], '\n'),
			Msg: fmt.Sprintf("%s holds a NUL byte, so it is not a YAML text file: point at the right file", what)}
	}
	return src, nil
}

// checkFile refuses, without opening it, a path that is missing or not a
// regular file of at most MaxFileSize bytes.
func checkFile(path, what string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %s not found%w", what, path, notFound{})
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s %s cannot be read: permission denied", what, path)
	case err != nil:
		return fmt.Errorf("%s %s: %w", what, path, errors.Unwrap(err))
	}
	return checkInfo(path, what, fi)
}

func checkInfo(path, what string, fi fs.FileInfo) error {
	switch m := fi.Mode(); {
	case m.IsDir():
		return fmt.Errorf("%s %s is a directory, not a file", what, path)
	case !m.IsRegular():
		return fmt.Errorf("%s %s is not a regular file (%s): point at a YAML file", what, path, kind(m))
	case fi.Size() > MaxFileSize:
		return fmt.Errorf("%s %s is %d MiB, larger than %d MiB: point at the right file", what, path, fi.Size()>>20, MaxFileSize>>20)
	}
	return nil
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return m.Type().String()
}

// checkReadable refuses a file that ReadFile would refuse, and one that
// cannot be opened for reading, without reading it.
func checkReadable(path, what string) error {
	if err := checkFile(path, what); err != nil {
		return err
	}
	f, err := openNoBlock(path)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return fmt.Errorf("%s %s cannot be read: permission denied", what, path)
		}
		return fmt.Errorf("%s %s cannot be opened: %w", what, path, errors.Unwrap(err))
	}
	return f.Close()
}

// notFound marks a missing file (errors.Is(err, fs.ErrNotExist)) without
// adding text to the message.
type notFound struct{}

func (notFound) Error() string        { return "" }
func (notFound) Is(target error) bool { return target == fs.ErrNotExist }
