package liveplugin

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func TestCleanDescription(t *testing.T) {
	tests := []struct {
		name    string
		give    Description
		want    Description
		wantErr string // a part of the sentence for the publisher; "" for none
	}{
		{name: "empty", give: Description{}, want: Description{}},
		{name: "trimmed", give: Description{Title: "  Morning show\u00a0", Description: "\n Coffee \r\nand news \n"},
			want: Description{Title: "Morning show", Description: "Coffee \nand news"}},
		{name: "longest title", give: Description{Title: strings.Repeat("é", MaxTitleRunes)},
			want: Description{Title: strings.Repeat("é", MaxTitleRunes)}},
		{name: "longest title, emoji", give: Description{Title: strings.Repeat("🎥", MaxTitleRunes)},
			want: Description{Title: strings.Repeat("🎥", MaxTitleRunes)}},
		{name: "title too long", give: Description{Title: strings.Repeat("a", MaxTitleRunes+1)}, wantErr: "title is too long"},
		{name: "at the limit once trimmed", give: Description{Title: " " + strings.Repeat("a", MaxTitleRunes) + " "},
			want: Description{Title: strings.Repeat("a", MaxTitleRunes)}},
		{name: "longest description", give: Description{Description: strings.Repeat("ü", MaxDescriptionRunes)},
			want: Description{Description: strings.Repeat("ü", MaxDescriptionRunes)}},
		{name: "description too long", give: Description{Description: strings.Repeat("a", MaxDescriptionRunes+1)}, wantErr: "description is too long"},
		{name: "newline in title", give: Description{Title: "two\nlines"}, wantErr: "title may not"},
		{name: "tab in title", give: Description{Title: "a\tb"}, wantErr: "title may not"},
		{name: "escape in title", give: Description{Title: "a\x1b[31mb"}, wantErr: "title may not"},
		{name: "C1 control in title", give: Description{Title: "a\u0085b"}, wantErr: "title may not"},
		{name: "tab in description", give: Description{Description: "a\tb"}, wantErr: "description may not"},
		{name: "NUL in description", give: Description{Description: "a\x00b"}, wantErr: "description may not"},
		{name: "lone CR in description", give: Description{Description: "a\rb"}, wantErr: "description may not"},
		{name: "invalid UTF-8", give: Description{Title: "a\xffb"}, wantErr: "UTF-8"},
		{name: "right-to-left override in title", give: Description{Title: "invoice\u202egnp.exe"}, wantErr: "bidirectional"},
		{name: "isolate in description", give: Description{Description: "a\u2067b\u2069"}, wantErr: "bidirectional"},
		{name: "pop in title", give: Description{Title: "a\u202cb"}, wantErr: "bidirectional"},
		{name: "right-to-left text with marks", give: Description{Title: "שלום \u200fעולם\u200e 2026"},
			want: Description{Title: "שלום \u200fעולם\u200e 2026"}},
		{name: "Arabic letter mark", give: Description{Title: "مرحبا\u061c"}, want: Description{Title: "مرحبا\u061c"}},
		{name: "markup is text", give: Description{Title: `<script>alert(1)</script>`}, want: Description{Title: `<script>alert(1)</script>`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cleanDescription(tc.give)
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Errorf("cleanDescription(%q) = %q, %v; want %q", tc.give, got, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidDescription) || !strings.Contains(refusalText(err), tc.wantErr) {
				t.Errorf("cleanDescription(%q) = %q, %v (%q); want ErrInvalidDescription saying %q", tc.give, got, err, refusalText(err), tc.wantErr)
			}
		})
	}
}

func TestParseMeta(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    Description
		wantErr bool
	}{
		{name: "both", give: `{"type":"meta","title":"Hi","description":"there"}`, want: Description{Title: "Hi", Description: "there"}},
		{name: "title only", give: `{"type":"meta","title":"Hi"}`, want: Description{Title: "Hi"}},
		{name: "escaped", give: `{"type":"meta","title":"\u00e9\ud83c\udfa5"}`, want: Description{Title: "é🎥"}},
		{name: "unknown field", give: `{"type":"meta","title":"Hi","color":"red"}`, wantErr: true},
		{name: "not a string", give: `{"type":"meta","title":12}`, wantErr: true},
		{name: "null title", give: `{"type":"meta","title":null}`, want: Description{}},
		{name: "not JSON", give: `{"type":"meta","title":`, wantErr: true},
		{name: "trailing value", give: `{"type":"meta"} {"type":"meta"}`, wantErr: true},
		{name: "invalid UTF-8", give: "{\"type\":\"meta\",\"title\":\"a\xffb\"}", wantErr: true},
		{name: "lone surrogate", give: `{"type":"meta","title":"\ud83c"}`, want: Description{Title: "\ufffd"}},
		{name: "too large", give: `{"type":"meta","description":"` + strings.Repeat("a", maxMetaBytes) + `"}`, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMeta([]byte(tc.give))
			if tc.wantErr {
				if !errors.Is(err, errBadMessage) {
					t.Errorf("parseMeta(%.60s) = %q, %v; want errBadMessage", tc.give, got, err)
				}
				if refusalText(err) != metaMalformedText {
					t.Errorf("refusalText(%v) = %q; want %q", err, refusalText(err), metaMalformedText)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("parseMeta(%.60s) = %q, %v; want %q", tc.give, got, err, tc.want)
			}
		})
	}
}

// TestMetaLimitsFitTheMessage: the longest title and description, every
// character escaped, fit in maxMetaBytes.
func TestMetaLimitsFitTheMessage(t *testing.T) {
	longest := len(`{"type":"meta","title":"","description":""}`) + 6*(MaxTitleRunes+MaxDescriptionRunes)
	if longest > maxMetaBytes {
		t.Errorf("the longest meta message takes %d bytes; maxMetaBytes = %d", longest, maxMetaBytes)
	}
}

func TestRefusalText(t *testing.T) {
	tests := []struct {
		name string
		give error
		want string
	}{
		{name: "hook's HTTP error", give: &hookError{echo.NewHTTPError(http.StatusBadRequest, "Keep titles polite.")}, want: "Keep titles polite."},
		{name: "hook's HTTP error without text", give: &hookError{echo.NewHTTPError(http.StatusBadRequest)}, want: "Bad Request"},
		{name: "hook's HTTP error, not a string", give: &hookError{echo.NewHTTPError(http.StatusBadRequest, 42)}, want: metaRefusedText},
		{name: "hook's other error", give: &hookError{errors.New("db: connection refused")}, want: metaRefusedText},
		{name: "hook's invalid result", give: &hookError{&descriptionError{"The title is too long."}}, want: metaRefusedText},
		{name: "rate", give: errMetaRate, want: metaRateText},
		{name: "malformed", give: errBadMessage, want: metaMalformedText},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := refusalText(tc.give); got != tc.want {
				t.Errorf("refusalText(%v) = %q; want %q", tc.give, got, tc.want)
			}
		})
	}
}
