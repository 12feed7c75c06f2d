/*
 * Native unit test of the word splitter (not part of the module: `weir build` skips test*.c).
 *   cc -o /tmp/test_words test_words.c words.c && /tmp/test_words
 */
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "words.h"

static char got[1024];

static void collect(const uint8_t *word, size_t len, void *context) {
    (void)context;
    strncat(got, (const char *)word, len);
    strcat(got, "|");
}

static int expect(const char *text, const char *want) {
    size_t bad = 0;
    got[0] = 0;
    int rc = for_each_word((const uint8_t *)text, strlen(text), collect, NULL, &bad);
    if (rc != 0 || strcmp(got, want) != 0) {
        fprintf(stderr, "words(\"%s\"): got \"%s\" (rc %d), want \"%s\"\n", text, got, rc, want);
        return 1;
    }
    return 0;
}

int main(void) {
    /* glibc's wide-character classes follow the locale; wasi-libc's are always Unicode. */
    if (!setlocale(LC_CTYPE, "C.UTF-8")) {
        fprintf(stderr, "no C.UTF-8 locale\n");
        return 1;
    }
    int failed = 0;
    failed += expect("Hello, hello WORLD!", "hello|hello|world|");
    failed += expect("l'\xc3\xa9t\xc3\xa9 2024", "l|\xc3\xa9t\xc3\xa9|2024|");
    failed += expect("snake_case--and  spaces", "snake|case|and|spaces|");
    failed += expect("", "");
    size_t bad = 0;
    if (for_each_word((const uint8_t *)"ok \xff", 4, collect, NULL, &bad) != -1 || bad != 3) {
        fprintf(stderr, "invalid UTF-8 is not reported at its offset (got %zu)\n", bad);
        failed++;
    }
    if (failed) return 1;
    puts("test_words: ok");
    return 0;
}
