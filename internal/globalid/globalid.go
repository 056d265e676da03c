// Package globalid assigns Global User IDs: two upper-case letters and four digits (AB1234),
// 26·26·10⁴ = 6,760,000 values.
//
// An id is a keyed permutation of a durable counter: the counter makes ids unique and never
// reused with one UPDATE, no retries and no scan however full the space gets; the permutation
// makes them non-sequential, so an id reveals neither sign-up order nor how many people use
// LoginSign. The permutation is a balanced Feistel network (six AES-based rounds) on Z_m × Z_m with m = 2600
// (2600² = 6,760,000 exactly), so no cycle-walking is needed.
package globalid

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"regexp"
	"strings"
)

// Side is m for the full space: Side² = 6,760,000 ids.
const Side = 2600

// Space is the number of Global User IDs.
const Space = Side * Side

const rounds = 6

var pattern = regexp.MustCompile(`^[A-Z]{2}[0-9]{4}$`)

// Valid reports whether s is a well-formed Global User ID (upper case).
func Valid(s string) bool { return pattern.MatchString(s) }

// Normalize upper-cases s and reports whether the result is a well-formed id; input is
// accepted case-insensitively.
func Normalize(s string) (string, bool) {
	s = strings.ToUpper(strings.TrimSpace(s))
	return s, Valid(s)
}

// Permutation maps counter values in [0, side²) one-to-one onto [0, side²).
type Permutation struct {
	side  uint64
	block cipher.Block
}

// NewPermutation returns the permutation of [0, side²) keyed by key (any length: it is
// hashed into an AES-256 key). side ≤ Side.
func NewPermutation(key []byte, side int) *Permutation {
	k := sha256.Sum256(key)
	block, err := aes.NewCipher(k[:])
	if err != nil {
		panic(err) // unreachable: a 32-byte key is always valid
	}
	return &Permutation{side: uint64(side), block: block}
}

// Size is side².
func (p *Permutation) Size() int64 { return int64(p.side * p.side) }

// Apply returns the image of n, which must be in [0, Size()).
func (p *Permutation) Apply(n int64) int64 {
	l, r := uint64(n)/p.side, uint64(n)%p.side
	// Round function: AES of (round, right half), reduced mod side.
	var in, out [aes.BlockSize]byte
	for i := range rounds {
		in[0] = byte(i)
		binary.BigEndian.PutUint64(in[8:], r)
		p.block.Encrypt(out[:], in[:])
		f := binary.BigEndian.Uint64(out[:8]) % p.side
		l, r = r, (l+f)%p.side
	}
	return int64(l*p.side + r)
}

// Format writes v in [0, Space) as an id: v/10⁴ picks the letter pair, v%10⁴ the digits.
func Format(v int64) string {
	pair, digits := v/10000, v%10000
	return fmt.Sprintf("%c%c%04d", 'A'+byte(pair/26), 'A'+byte(pair%26), digits)
}
