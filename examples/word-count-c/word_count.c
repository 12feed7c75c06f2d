/*
 * Hadoop's word count as a Weir module, in C: each line maps to (word, 1) per word, reduce
 * sums, and finish writes the JSON the Rust example (examples/word-count) writes.
 *
 * Keys are the words' UTF-8 bytes; values are counts as 8-byte little-endian integers.
 */
#include <stdint.h>
#include <string.h>

#include "weir.h"
#include "words.h"

static weir_bytes count_bytes(const uint8_t bytes[8]) { return (weir_bytes){bytes, 8}; }

static void store_count(uint8_t bytes[8], uint64_t count) {
    for (int i = 0; i < 8; i++) bytes[i] = (uint8_t)(count >> (8 * i));
}

static int load_count(weir_bytes value, uint64_t *count) {
    if (value.len != 8) return -1;
    *count = 0;
    for (int i = 0; i < 8; i++) *count |= (uint64_t)value.ptr[i] << (8 * i);
    return 0;
}

static void emit_one(const uint8_t *word, size_t len, void *out) {
    static const uint8_t one[8] = {1};
    weir_emit(out, (weir_bytes){word, len}, count_bytes(one));
}

weir_result weir_map(const weir_record *record, weir_emitter *out) {
    size_t bad;
    if (for_each_word(record->value.ptr, record->value.len, emit_one, out, &bad) != 0) {
        return weir_error("record value is not UTF-8 text (invalid byte at position %zu)", bad);
    }
    return WEIR_OK;
}

weir_result weir_reduce(weir_bytes a, weir_bytes b, weir_buf *out) {
    uint64_t x, y;
    if (load_count(a, &x) != 0 || load_count(b, &y) != 0) return weir_error("a count is not 8 bytes");
    uint8_t sum[8];
    store_count(sum, x + y);
    weir_buf_append(out, sum, sizeof sum);
    return WEIR_OK;
}

weir_result weir_finish(weir_window window, weir_bytes key, weir_bytes acc, weir_output *out) {
    uint64_t count;
    if (load_count(acc, &count) != 0) return weir_error("a count is not 8 bytes");
    weir_buf key_json = {0}, value_json = {0};
    weir_buf_append_json_string(&key_json, key);
    weir_buf_append_u64(&value_json, count);
    weir_output_window_json(out, window, weir_buf_bytes(&key_json), weir_buf_bytes(&value_json));
    weir_buf_free(&key_json);
    weir_buf_free(&value_json);
    return WEIR_OK;
}
