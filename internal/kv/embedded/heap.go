package embedded

// expHeap is a 4-ary min-heap of keys by deadline, the deadline stored next to the pointer so
// that ordering never dereferences an entry (at a million keys every dereference is a cache
// miss). Each entry knows its index (hidx) so it can be fixed or removed in O(log n).
type expHeap []heapItem

type heapItem struct {
	at int64 // the entry's hexp
	e  *entry
}

func (h expHeap) top() *entry { return h[0].e }

func (h expHeap) topAt() int64 { return h[0].at }

func (h *expHeap) push(e *entry) {
	*h = append(*h, heapItem{at: e.hexp, e: e})
	e.hidx = len(*h) - 1
	h.up(e.hidx)
}

// remove takes the entry at index i out of the heap.
func (h *expHeap) remove(i int) {
	old := *h
	last := len(old) - 1
	old[i].e.hidx = -1
	if i != last {
		old[i] = old[last]
		old[i].e.hidx = i
	}
	old[last] = heapItem{}
	*h = old[:last]
	if i != last {
		if !h.down(i) {
			h.up(i)
		}
	}
}

// fix restores the order after the entry at i changed its hexp.
func (h expHeap) fix(i int) {
	h[i].at = h[i].e.hexp
	if !h.down(i) {
		h.up(i)
	}
}

func (h expHeap) up(i int) {
	it := h[i]
	for i > 0 {
		p := (i - 1) / 4
		if h[p].at <= it.at {
			break
		}
		h[i] = h[p]
		h[i].e.hidx = i
		i = p
	}
	h[i] = it
	it.e.hidx = i
}

// down sifts the entry at i down and reports whether it moved.
func (h expHeap) down(i int) bool {
	it, start, n := h[i], i, len(h)
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		m := c
		for j := c + 1; j < c+4 && j < n; j++ {
			if h[j].at < h[m].at {
				m = j
			}
		}
		if h[m].at >= it.at {
			break
		}
		h[i] = h[m]
		h[i].e.hidx = i
		i = m
	}
	h[i] = it
	it.e.hidx = i
	return i != start
}
