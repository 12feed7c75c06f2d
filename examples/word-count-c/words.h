/* The word splitter of word count: pure C, no Weir, so test_words.c runs it natively. */
#ifndef WORDS_H
#define WORDS_H

#include <stddef.h>
#include <stdint.h>

/* Receives one lower-cased word (UTF-8, not NUL-terminated). */
typedef void (*word_fn)(const uint8_t *word, size_t len, void *context);

/*
 * Calls `each` for every word of the UTF-8 `text`, lower-cased: a word is a run of letters
 * and digits as Rust's char::is_alphanumeric has them (alphanumeric.h). Returns -1 and stops
 * at the first byte that is not valid UTF-8, with its offset in *bad_offset.
 */
int for_each_word(const uint8_t *text, size_t len, word_fn each, void *context, size_t *bad_offset);

#endif
