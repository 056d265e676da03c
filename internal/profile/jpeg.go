package profile

import "loginsign/internal/apperr"

// MaxJPEGScans bounds the scans (SOS segments) of an uploaded JPEG. Go's image/jpeg walks every
// block of the picture once per scan and sets no bound of its own, and a progressive scan that
// only says "end of block for the next 16,384 blocks" takes about 20 bytes: a 512 KiB file
// could hold 25,000 scans and a minute of CPU. Encoders write one scan (baseline), one per
// component (non-interleaved) or about ten (libjpeg's progressive script: 10 for colour, 6 for
// grey); libjpeg-turbo's -maxscans exists for the same reason.
const MaxJPEGScans = 32

// checkJPEG walks the marker segments of the JPEG raw the way Go's image/jpeg reads them,
// before anything is decoded, and refuses what would cost more than the decode budget allows:
// more than MaxJPEGScans scans (TooLarge "picture_too_complex"), or a progressive frame of more
// than three components (CMYK or YCCK; Invalid "picture_unsupported"), whose decoding keeps 16
// bytes of coefficients a pixel and then a 4-byte CMYK picture (see PictureDecodes).
//
// The walk is one pass over raw: a segment is skipped by its length, and the entropy-coded data
// after a scan's header, like the extraneous bytes Go's decoder tolerates between segments,
// is skipped to the next marker (FF xx but FF 00, a stuffed byte, or a restart marker FF D0 to
// FF D7), one or two bytes a step. It stops at EOI, at the end of raw, or at a marker Go's
// decoder does not read (which the decode then refuses): Go's decoder processes no scan
// that the walk has not counted.
func checkJPEG(raw []byte) error {
	const (
		sof2 = 0xc2
		sos  = 0xda
		eoi  = 0xd9
	)
	if len(raw) < 2 || raw[0] != 0xff || raw[1] != 0xd8 {
		return nil // not a JPEG: image.DecodeConfig has said what it is
	}
	scans := 0
	i := 2
	for {
		// The next marker, as Go's decoder finds it: any bytes before an FF are skipped, FF 00
		// and restart markers are skipped, and FF fill bytes may precede a marker.
		if i+1 >= len(raw) {
			return nil
		}
		if raw[i] != 0xff {
			i++
			continue
		}
		marker := raw[i+1]
		if marker == 0 || 0xd0 <= marker && marker <= 0xd7 {
			i += 2
			continue
		}
		i++
		for i < len(raw) && raw[i] == 0xff {
			i++
		}
		if i >= len(raw) {
			return nil
		}
		marker = raw[i]
		i++
		if marker == eoi {
			return nil
		}
		if 0xd0 <= marker && marker <= 0xd7 {
			continue
		}
		if i+1 >= len(raw) {
			return nil
		}
		n := int(raw[i])<<8 | int(raw[i+1])
		if n < 2 {
			return nil // Go's decoder: "short segment length"
		}
		seg := raw[i+2 : min(i+n, len(raw))]
		switch {
		case marker == 0xc0 || marker == 0xc1 || marker == sof2:
			// SOF: precision, height, width, number of components.
			if marker == sof2 && len(seg) >= 6 && seg[5] > 3 {
				return apperr.WithReason(apperr.Invalid, "picture_unsupported",
					"progressive CMYK JPEG pictures are not accepted; save the picture as RGB")
			}
		case marker == sos:
			if scans++; scans > MaxJPEGScans {
				return apperr.WithReason(apperr.TooLarge, "picture_too_complex",
					"the picture is stored in more than %d passes; save it again as a standard JPEG or PNG", MaxJPEGScans)
			}
		case marker == 0xc4 || marker == 0xdb || marker == 0xdd || 0xe0 <= marker && marker <= 0xef || marker == 0xfe:
			// DHT, DQT, DRI, APPn, COM: read or skipped by their length.
		default:
			return nil // a marker Go's decoder refuses: it stops there too
		}
		i += n
	}
}
