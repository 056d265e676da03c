package server

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// dropStartupPages releases, once the server is up, the pages of the executable that only
// starting touched: package initialisation (ent's code-generation templates, the GraphQL
// schema, OpenAPI, atlas), the migration engine and the handler construction run code and
// read data spread over most of the 60 MB text and read-only data segments.
//
// MADV_DONTNEED drops them from the resident set, and what serving touches is mapped again
// on its first use. That alone is not enough on Linux 6.18: a fault maps the whole page-cache
// folio around the address, and a binary that was just written (a build, a copy, an image
// layer) sits in the page cache in folios of up to 2 MB, so one touch of the GC's stack
// maps or of a type descriptor mapped 256 KB to 2 MB back (measured), and the idle
// resident set came back to 25–42 MB. So the executable's clean page cache that no process
// maps is also dropped (POSIX_FADV_DONTNEED, after an fdatasync, a no-op unless the binary
// was just written), and the read-only mappings are marked MADV_RANDOM: what serving
// touches next is read back one page at a time, into single-page folios. The cost is a
// one-time read from disk of the pages serving needs. Pages another running instance maps
// stay cached. Only read-only mappings of the executable are touched, never data.
func dropStartupPages() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	spans, err := readOnlyMappings(exe)
	if err != nil || len(spans) == 0 {
		return
	}
	// Every step is best effort: a step the kernel refuses leaves more resident, nothing
	// else, so its error is not looked at.
	f, err := os.Open(exe) // an executable we may not read still gets the madvise
	if err == nil {
		defer f.Close()
		_ = f.Sync() // written pages cannot be dropped until they are on disk
	}
	// Twice: a page another goroutine maps back in between pins its whole folio.
	for range 2 {
		for _, s := range spans {
			_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, s[0], s[1]-s[0], syscall.MADV_RANDOM)
			_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, s[0], s[1]-s[0], syscall.MADV_DONTNEED)
		}
		if f != nil {
			_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		}
	}
}

// readOnlyMappings is the [start, end) of each read-only mapping of the file exe in this
// process (its text and read-only data).
func readOnlyMappings(exe string) ([][2]uintptr, error) {
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var spans [][2]uintptr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 00400000-020ea000 r-xp 00000000 fe:00 9978241   /path/to/loginsign
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[5] != exe || strings.Contains(fields[1], "w") {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		spans = append(spans, [2]uintptr{uintptr(start), uintptr(end)})
	}
	return spans, sc.Err()
}
