package liveplugin

import (
	"bytes"
	"encoding/base64"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"strings"
	"testing"
	"time"
)

// testJPEG returns a w×h JPEG of a gradient.
func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jpegHeader returns the start of a JPEG whose frame header (SOF0) claims
// w×h pixels, and nothing of an image after it.
func jpegHeader(w, h int) []byte {
	return []byte{
		0xff, 0xd8, // SOI
		0xff, 0xe0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, // APP0 JFIF
		0xff, 0xc0, 0x00, 0x11, 0x08, // SOF0, length 17, 8 bits
		byte(h >> 8), byte(h), byte(w >> 8), byte(w),
		0x03, 0x01, 0x22, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11, 0x01, // 3 components
	}
}

// resized returns jpg with its frame header patched to claim w×h pixels:
// a small file that would decode to a huge image.
func resized(t testing.TB, jpg []byte, w, h int) []byte {
	t.Helper()
	out := append([]byte{}, jpg...)
	sof := bytes.Index(out, []byte{0xff, 0xc0})
	if sof < 0 {
		t.Fatal("test JPEG without SOF0")
	}
	out[sof+5], out[sof+6], out[sof+7], out[sof+8] = byte(h>>8), byte(h), byte(w>>8), byte(w)
	return out
}

// withSegments returns jpg with segs inserted after its SOI, and tail
// appended after its EOI.
func withSegments(jpg []byte, tail []byte, segs ...[]byte) []byte {
	out := append([]byte{}, jpg[:2]...)
	for _, s := range segs {
		out = append(out, s...)
	}
	out = append(out, jpg[2:]...)
	return append(out, tail...)
}

// app1 returns an APP1 segment (where EXIF lives) holding data.
func app1(data string) []byte {
	n := len(data) + 2
	return append([]byte{0xff, 0xe1, byte(n >> 8), byte(n)}, data...)
}

// scanBomb returns jpg with its scan repeated n times: a file that makes
// a decoder go over the image n times.
func scanBomb(t testing.TB, jpg []byte, n int) []byte {
	t.Helper()
	sos := bytes.Index(jpg, []byte{0xff, 0xda})
	if sos < 0 || !bytes.HasSuffix(jpg, []byte{0xff, 0xd9}) {
		t.Fatal("test JPEG without SOS or EOI")
	}
	scan := jpg[sos : len(jpg)-2]
	out := append([]byte{}, jpg[:len(jpg)-2]...)
	for range n - 1 {
		out = append(out, scan...)
	}
	return append(out, 0xff, 0xd9)
}

func TestDecodeThumbnail(t *testing.T) {
	const max = 64 << 10
	valid := testJPEG(t, 320, 180)
	var pngBuf bytes.Buffer
	if err := png.Encode(&pngBuf, image.NewRGBA(image.Rect(0, 0, 64, 64))); err != nil {
		t.Fatal(err)
	}
	big := testJPEG(t, 1200, 900)
	if len(big) <= 1000 {
		t.Fatal("the big test JPEG is too small")
	}
	tests := []struct {
		name    string
		give    string // base64
		max     int
		wantErr string // part of the sentence; "" for success
		wantW   int
		wantH   int
	}{
		{name: "valid", give: b64(valid), wantW: 320, wantH: 180},
		{name: "valid with EXIF and a tail", give: b64(withSegments(valid, []byte("<script>alert(1)</script>"), app1("Exif\x00\x00secret GPS"))), wantW: 320, wantH: 180},
		{name: "smallest", give: b64(testJPEG(t, 16, 16)), wantW: 16, wantH: 16},
		{name: "largest", give: b64(testJPEG(t, 1920, 1920)), max: 4 << 20, wantW: 1920, wantH: 1920},
		{name: "not base64", give: "not base64!", wantErr: "not valid base64"},
		{name: "empty", give: "", wantErr: "not a JPEG"},
		{name: "PNG", give: b64(pngBuf.Bytes()), wantErr: "not a JPEG"},
		{name: "text", give: b64([]byte("GIF89a, or anything")), wantErr: "not a JPEG"},
		{name: "truncated header", give: b64(valid[:40]), wantErr: "not a valid JPEG"},
		{name: "truncated image", give: b64(valid[:len(valid)/2]), wantErr: "not a valid JPEG"},
		{name: "too many bytes", give: b64(big), max: 1000, wantErr: "larger than 1000 bytes"},
		{name: "too many bytes, base64 length", give: strings.Repeat("A", 4000), max: 1000, wantErr: "larger than 1000 bytes"},
		{name: "30000×30000", give: b64(jpegHeader(30000, 30000)), wantErr: "30000×30000 pixels is larger than 1920×1920"},
		{name: "30000×30000 with its tables and scan", give: b64(resized(t, valid, 30000, 30000)), wantErr: "30000×30000 pixels is larger than 1920×1920"},
		{name: "too wide", give: b64(testJPEG(t, 1921, 20)), max: 1 << 20, wantErr: "larger than 1920×1920"},
		{name: "too small", give: b64(testJPEG(t, 15, 64)), wantErr: "15×64 pixels is smaller than 16×16"},
		{name: "scan bomb", give: b64(scanBomb(t, valid, 40)), max: 4 << 20, wantErr: "scans are more than 16"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.max
			if m == 0 {
				m = max
			}
			got, err := decodeThumbnail(tc.give, m)
			if tc.wantErr != "" {
				var te *thumbnailError
				if !errors.As(err, &te) || !strings.Contains(te.msg, tc.wantErr) {
					t.Fatalf("decodeThumbnail() error = %v; want a *thumbnailError with %q", err, tc.wantErr)
				}
				if !strings.HasSuffix(te.msg, ".") || !strings.HasPrefix(te.msg, "Thumbnail") {
					t.Errorf("error %q is not a sentence about the thumbnail", te.msg)
				}
				return
			}
			if err != nil {
				t.Fatalf("decodeThumbnail() error = %v", err)
			}
			cfg, err := jpeg.DecodeConfig(bytes.NewReader(got))
			if err != nil || cfg.Width != tc.wantW || cfg.Height != tc.wantH {
				t.Fatalf("decodeThumbnail() = a %dx%d image (%v); want a %dx%d JPEG", cfg.Width, cfg.Height, err, tc.wantW, tc.wantH)
			}
			for _, bad := range []string{"Exif", "secret", "script"} {
				if bytes.Contains(got, []byte(bad)) {
					t.Errorf("decodeThumbnail() kept %q of the input", bad)
				}
			}
			if !bytes.HasSuffix(got, []byte{0xff, 0xd9}) {
				t.Error("decodeThumbnail() output does not end with EOI")
			}
		})
	}
}

func TestJPEGScans(t *testing.T) {
	valid := testJPEG(t, 64, 64)
	tests := []struct {
		name    string
		give    []byte
		want    int
		wantErr bool
	}{
		{name: "baseline", give: valid, want: 1},
		{name: "restart markers and stuffing", give: []byte{0xff, 0xd8, 0xff, 0xda, 0x00, 0x02, 0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xff, 0xd9}, want: 1},
		{name: "two scans", give: scanBomb(t, valid, 2), want: 2},
		{name: "bomb stops counting", give: scanBomb(t, valid, 1000), want: maxThumbnailScans + 1},
		{name: "no SOI", give: valid[2:], wantErr: true},
		{name: "garbage between segments", give: []byte{0xff, 0xd8, 0x12, 0x34}, wantErr: true},
		{name: "length past the end", give: []byte{0xff, 0xd8, 0xff, 0xe0, 0x10, 0x00, 0x00}, wantErr: true},
		{name: "length below 2", give: []byte{0xff, 0xd8, 0xff, 0xe0, 0x00, 0x01}, wantErr: true},
		{name: "cut short", give: valid[:len(valid)-10], want: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := jpegScans(tc.give)
			if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
				t.Errorf("jpegScans() = %d, %v; want %d, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestThumbnailConfig(t *testing.T) {
	tests := []struct {
		name      string
		give      Config
		wantBytes int
		wantErr   string
	}{
		{name: "defaults", give: Config{}, wantBytes: 256 << 10},
		{name: "small messages lower the default", give: Config{MaxMessageBytes: 64 << 10}, wantBytes: maxThumbnailFitting(64 << 10)},
		{name: "set", give: Config{MaxThumbnailBytes: 1 << 20}, wantBytes: 1 << 20},
		{name: "too large for a message", give: Config{MaxMessageBytes: 64 << 10, MaxThumbnailBytes: 64 << 10}, wantErr: "MaxThumbnailBytes (65536) must fit in MaxMessageBytes (65536)"},
		{name: "negative", give: Config{MaxThumbnailBytes: -1}, wantErr: "MaxThumbnailBytes must be > 0, got -1"},
		{name: "negative interval", give: Config{ThumbnailInterval: -time.Second}, wantErr: "ThumbnailInterval must be > 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.give.withDefaults()
			err := c.validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("validate() = %v; want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("validate() = %v", err)
			}
			if c.MaxThumbnailBytes != tc.wantBytes {
				t.Errorf("MaxThumbnailBytes = %d; want %d", c.MaxThumbnailBytes, tc.wantBytes)
			}
			if maxThumbnailMessage(c.MaxThumbnailBytes) > c.MaxMessageBytes {
				t.Errorf("a thumbnail of %d bytes does not fit in MaxMessageBytes %d", c.MaxThumbnailBytes, c.MaxMessageBytes)
			}
			if c.ThumbnailInterval != defaultThumbnailInterval {
				t.Errorf("ThumbnailInterval = %v; want %v", c.ThumbnailInterval, defaultThumbnailInterval)
			}
		})
	}
}

// FuzzThumbnail feeds the thumbnail decoder arbitrary files: it must never
// panic, and what it accepts must come out as a JPEG of the same bounded
// size, made by the server.
func FuzzThumbnail(f *testing.F) {
	valid := testJPEG(f, 32, 24)
	f.Add(valid)
	f.Add(withSegments(valid, []byte("tail"), app1("Exif\x00\x00x")))
	f.Add(jpegHeader(30000, 30000))
	f.Add(jpegHeader(64, 64))
	f.Add(resized(f, valid, 30000, 30000))
	f.Add(scanBomb(f, valid, 20))
	f.Add(valid[:len(valid)/2])
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > 64<<10 {
			return
		}
		n, _ := jpegScans(raw)
		if n > maxThumbnailScans+1 {
			t.Fatalf("jpegScans counted %d scans; it stops after %d", n, maxThumbnailScans+1)
		}
		in, inErr := jpeg.DecodeConfig(bytes.NewReader(raw))
		got, err := decodeThumbnail(b64(raw), 64<<10)
		if err != nil {
			var te *thumbnailError
			if !errors.As(err, &te) {
				t.Fatalf("decodeThumbnail() error %v is not a *thumbnailError", err)
			}
			return
		}
		if inErr != nil {
			t.Fatalf("decodeThumbnail accepted what jpeg.DecodeConfig refuses: %v", inErr)
		}
		out, err := jpeg.DecodeConfig(bytes.NewReader(got))
		if err != nil {
			t.Fatalf("decodeThumbnail() output does not decode: %v", err)
		}
		if out.Width != in.Width || out.Height != in.Height {
			t.Fatalf("decodeThumbnail() turned %dx%d into %dx%d", in.Width, in.Height, out.Width, out.Height)
		}
		if out.Width < minThumbnailSide || out.Height < minThumbnailSide || out.Width > maxThumbnailSide || out.Height > maxThumbnailSide {
			t.Fatalf("decodeThumbnail() accepted %dx%d", out.Width, out.Height)
		}
	})
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
