package server

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// dropStartupPages releases, once the server is up, the pages of the executable that only
// starting touched: package initialisation (ent's code-generation templates, the GraphQL
// schema, OpenAPI, atlas), the migration engine and the handler construction run code and
// read data spread over most of the 60 MB text and read-only data segments, and Linux maps
// neighbouring pages with every fault. MADV_DONTNEED drops them from the resident set; they
// stay in the page cache, and what serving touches is mapped again on its first use (a
// minor fault). Only read-only mappings of the executable are touched, never data.
func dropStartupPages() {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return
	}
	defer f.Close()
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
		syscall.Syscall(syscall.SYS_MADVISE, uintptr(start), uintptr(end-start), syscall.MADV_DONTNEED)
	}
}
