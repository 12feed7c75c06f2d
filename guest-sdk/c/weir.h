/*
 * weir.h: write Weir map/reduce modules in C.
 *
 * A module defines three functions; this SDK (weir.c) implements the contract's batch exports
 * (guest-sdk/wit/weir.wit, through the bindings wit-bindgen's C generator writes) on top of
 * them. `weir build` compiles everything with clang for wasm32-wasi and makes the component.
 *
 *     weir_result weir_map(const weir_record *record, weir_emitter *out);
 *         emits zero or more (key, value) pairs for one input record;
 *     weir_result weir_reduce(weir_bytes a, weir_bytes b, weir_buf *out);
 *         writes the fold of two values to `out` (it must be associative);
 *     weir_result weir_finish(weir_window window, weir_bytes key, weir_bytes acc, weir_output *out);
 *         writes a closed window's output record for one key.
 *
 * Keys and values are bytes of your choosing; the host compares keys bytewise, so equal keys
 * must have equal bytes. Return WEIR_OK, or weir_error("...") to send the record (or group,
 * or window) at hand to the dead letters with that message; the stream goes on.
 */
#ifndef WEIR_H
#define WEIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A read-only byte string (not NUL-terminated). */
typedef struct weir_bytes {
    const uint8_t *ptr;
    size_t len;
} weir_bytes;

/** A growable output buffer; the SDK owns its memory. */
typedef struct weir_buf {
    uint8_t *ptr;
    size_t len;
    size_t cap;
} weir_buf;

/** A half-open window of event time, [start, end), in ms since the Unix epoch. */
typedef struct weir_window {
    int64_t start;
    int64_t end;
} weir_window;

/** One input record. */
typedef struct weir_record {
    weir_bytes value; /* empty when the record has none */
    weir_bytes key;   /* empty when the record has none (see has_key) */
    bool has_key;
    int64_t timestamp; /* ms since the Unix epoch */
    int32_t partition;
    int64_t offset;
    const void *wit; /* the contract's record, for weir_record_header */
} weir_record;

/** An output record that weir_finish writes: a value, and a key when has_key is set. */
typedef struct weir_output {
    weir_buf key;
    weir_buf value;
    bool has_key;
} weir_output;

/** Collects the pairs weir_map emits. */
typedef struct weir_emitter weir_emitter;

/** NULL for success, else the message of a refusal. */
typedef const char *weir_result;
#define WEIR_OK ((weir_result)0)

/* ---- the module's functions (you define these) ---- */
weir_result weir_map(const weir_record *record, weir_emitter *out);
weir_result weir_reduce(weir_bytes a, weir_bytes b, weir_buf *out);
weir_result weir_finish(weir_window window, weir_bytes key, weir_bytes acc, weir_output *out);

/* ---- what the SDK offers ---- */

/** Emits a pair whose event time is the input record's timestamp. */
void weir_emit(weir_emitter *out, weir_bytes key, weir_bytes value);
/** Emits a pair with its own event time, in ms since the Unix epoch. */
void weir_emit_at(weir_emitter *out, int64_t timestamp_ms, weir_bytes key, weir_bytes value);

/** A refusal with a printf-style message (kept until the next call of the SDK). */
weir_result weir_error(const char *format, ...) __attribute__((format(printf, 1, 2)));

/** Finds the first header called `name`; false when there is none. */
bool weir_record_header(const weir_record *record, const char *name, weir_bytes *value);

/** Bytes of a NUL-terminated string, and of a buffer. */
weir_bytes weir_str(const char *text);
weir_bytes weir_buf_bytes(const weir_buf *buf);

/** Frees a buffer's memory (it can be appended to again afterwards). */
void weir_buf_free(weir_buf *buf);
/** Appends to a buffer. */
void weir_buf_append(weir_buf *buf, const void *data, size_t len);
void weir_buf_append_str(weir_buf *buf, const char *text);
void weir_buf_append_u64(weir_buf *buf, uint64_t value); /* decimal */
void weir_buf_append_i64(weir_buf *buf, int64_t value);  /* decimal */
/** Appends UTF-8 `text` as a JSON string literal, quotes and escapes included. */
void weir_buf_append_json_string(weir_buf *buf, weir_bytes text);

/**
 * The default output of a window, the bytes the Rust SDK writes: the value
 * {"window_start":ms,"window_end":ms,"key":KEY,"value":VALUE} keyed by
 * {"window_start":ms,"window_end":ms,"key":KEY}, where KEY and VALUE are JSON texts.
 */
void weir_output_window_json(weir_output *out, weir_window window, weir_bytes key_json, weir_bytes value_json);

/** Logs through the host's structured logs (rate-limited by the host). */
typedef enum weir_log_level { WEIR_TRACE, WEIR_DEBUG, WEIR_INFO, WEIR_WARN, WEIR_ERROR } weir_log_level;
void weir_log(weir_log_level level, const char *format, ...) __attribute__((format(printf, 2, 3)));

#ifdef __cplusplus
}
#endif

#endif /* WEIR_H */
