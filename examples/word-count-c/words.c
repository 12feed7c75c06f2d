/*
 * Word splitting over UTF-8: runs of letters and digits (alphanumeric.h, Rust's
 * char::is_alphanumeric), lower-cased with wasi-libc's towlower plus the two rules of Rust's
 * to_lowercase that a one-character mapping cannot express (see lower_word).
 */
#include "words.h"

#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "alphanumeric.h"

/* Decodes one UTF-8 character at text[*i]; -1 when the bytes there are not valid UTF-8. */
static int32_t decode(const uint8_t *text, size_t len, size_t *i) {
    uint8_t b = text[*i];
    int32_t c;
    size_t n;
    if (b < 0x80) {
        *i += 1;
        return b;
    } else if (b >= 0xc2 && b < 0xe0) {
        c = b & 0x1f, n = 1;
    } else if (b >= 0xe0 && b < 0xf0) {
        c = b & 0x0f, n = 2;
    } else if (b >= 0xf0 && b < 0xf5) {
        c = b & 0x07, n = 3;
    } else {
        return -1;
    }
    if (*i + n >= len) return -1;
    for (size_t k = 1; k <= n; k++) {
        uint8_t next = text[*i + k];
        if ((next & 0xc0) != 0x80) return -1;
        c = (c << 6) | (next & 0x3f);
    }
    /* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
    if ((n == 2 && c < 0x800) || (n == 3 && c < 0x10000) || (c >= 0xd800 && c < 0xe000) || c > 0x10ffff) return -1;
    *i += n + 1;
    return c;
}

static size_t encode(uint32_t c, uint8_t *out) {
    if (c < 0x80) {
        out[0] = (uint8_t)c;
        return 1;
    } else if (c < 0x800) {
        out[0] = (uint8_t)(0xc0 | (c >> 6));
        out[1] = (uint8_t)(0x80 | (c & 0x3f));
        return 2;
    } else if (c < 0x10000) {
        out[0] = (uint8_t)(0xe0 | (c >> 12));
        out[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
        out[2] = (uint8_t)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (uint8_t)(0xf0 | (c >> 18));
    out[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
    out[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
    out[3] = (uint8_t)(0x80 | (c & 0x3f));
    return 4;
}

static int is_cased(uint32_t c) { return towlower((wint_t)c) != (wint_t)c || towupper((wint_t)c) != (wint_t)c; }

/*
 * Lower-cases the code points of one word into UTF-8 (at most 6 bytes per code point):
 * towlower, except that a capital sigma with a cased letter before it and none after it
 * becomes the final ς, and İ (U+0130) becomes i and a combining dot above, as Rust does.
 */
static size_t lower_word(const uint32_t *word, size_t n, uint8_t *out) {
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t c = word[i];
        if (c == 0x3a3) {
            int before = 0, after = 0;
            for (size_t k = 0; k < i; k++) before |= is_cased(word[k]);
            for (size_t k = i + 1; k < n; k++) after |= is_cased(word[k]);
            len += encode(before && !after ? 0x3c2 : 0x3c3, out + len);
        } else if (c == 0x130) {
            len += encode('i', out + len);
            len += encode(0x307, out + len);
        } else {
            len += encode((uint32_t)towlower((wint_t)c), out + len);
        }
    }
    return len;
}

int for_each_word(const uint8_t *text, size_t len, word_fn each, void *context, size_t *bad_offset) {
    uint32_t *word = NULL;
    uint8_t *utf8 = NULL;
    size_t n = 0, cap = 0, i = 0;
    int result = 0;
    for (;;) {
        int32_t c = -2; /* end of text */
        size_t start = i;
        if (i < len && (c = decode(text, len, &i)) < 0) {
            *bad_offset = start;
            result = -1;
            break;
        }
        if (c >= 0 && is_alphanumeric((uint32_t)c)) {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                word = realloc(word, cap * sizeof *word);
                utf8 = realloc(utf8, cap * 6);
                if (!word || !utf8) abort();
            }
            word[n++] = (uint32_t)c;
            continue;
        }
        if (n) {
            each(utf8, lower_word(word, n, utf8), context);
            n = 0;
        }
        if (c == -2) break;
    }
    free(word);
    free(utf8);
    return result;
}
