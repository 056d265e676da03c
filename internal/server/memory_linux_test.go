package server

import (
	"bufio"
	"encoding/binary"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestDropStartupPages runs dropStartupPages in the test binary, which `go test` has just
// written (so its page cache holds large folios on Linux 6.18): the executable's read-only
// mappings lose most of their resident pages and are marked MADV_RANDOM, and afterwards one
// touch of the executable maps at most the fault-around window, not a whole large folio.
func TestDropStartupPages(t *testing.T) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := exeMappings(t, exe)
	dropStartupPages()
	after, flags := exeMappings(t, exe)
	if after > before/2 {
		t.Errorf("resident read-only pages of the executable: %d KB before, %d KB after", before, after)
	}
	for _, f := range flags {
		if !strings.Contains(" "+f+" ", " rr ") {
			t.Errorf("a read-only mapping of the executable is not MADV_RANDOM: VmFlags %q", f)
		}
	}

	// A fresh read-only mapping of the file: each touch maps at most 16 pages (64 KB).
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)
	if err := syscall.Madvise(m, syscall.MADV_RANDOM); err != nil {
		t.Fatal(err)
	}
	pagemap, err := os.Open("/proc/self/pagemap")
	if err != nil {
		t.Fatal(err)
	}
	defer pagemap.Close()
	base := uintptr(unsafe.Pointer(&m[0]))
	present := func() int {
		buf := make([]byte, len(m)/4096*8)
		if _, err := pagemap.ReadAt(buf, int64(base/4096*8)); err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := 0; i+8 <= len(buf); i += 8 {
			if binary.LittleEndian.Uint64(buf[i:])>>63 == 1 {
				n++
			}
		}
		return n
	}
	var sink byte
	step := len(m) / 24 &^ 4095
	for off := step; off < len(m); off += step {
		n0 := present()
		sink += m[off]
		if n := present() - n0; n > 16 {
			t.Errorf("touching offset %#x of the executable mapped %d pages", off, n)
		}
	}
	_ = sink
}

// exeMappings is the resident size in KB of the read-only mappings of exe in this process,
// and their VmFlags lines.
func exeMappings(t *testing.T, exe string) (kb int, flags []string) {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mine := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
		case !strings.HasSuffix(fields[0], ":"): // a mapping's header line
			mine = len(fields) >= 6 && fields[5] == exe && !strings.Contains(fields[1], "w")
		case !mine:
		case fields[0] == "Rss:":
			n, _ := strconv.Atoi(fields[1])
			kb += n
		case fields[0] == "VmFlags:":
			flags = append(flags, strings.Join(fields[1:], " "))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(flags) == 0 {
		t.Fatalf("no read-only mapping of %s in /proc/self/smaps", exe)
	}
	return kb, flags
}
