/* json.h — a small, strict, bounds-checked JSON reader and string writer for cordon-oci's fast
 * path (oci-fast.c), which reads the state.json that the TypeScript runtime writes with
 * JSON.stringify and prints `state` as JSON.stringify(state, null, '  ') would.
 *
 * The reader turns a document into a flat array of tokens in document order; each token knows
 * where its subtree ends (`next`), so a caller walks an object's members without recursion.
 * It accepts exactly RFC 8259 JSON (JSON.parse's grammar) with strings of valid UTF-8, nests
 * at most JSON_MAX_DEPTH deep, and never reads outside [text, text+len). Pure: no I/O. */
#ifndef CORDON_JSON_H
#define CORDON_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH 64

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT
};

struct json_tok {
	enum json_type type;
	/* The token's bytes in the text: a string's without its quotes, a container's from its
	 * opening to its closing bracket. */
	size_t start, end;
	/* Index of the first token after this one's subtree. An object's tokens that follow it
	 * alternate key (a JSON_STRING) and value. */
	size_t next;
	/* Members of an object (key-value pairs) or elements of an array. */
	size_t n;
};

/* Owns toks (free with json_free); text is the caller's and must outlive the document. */
struct json_doc {
	const char *text;
	size_t len;
	struct json_tok *toks;
	size_t n_toks, cap;
};

/* Parses text[0..len); 0 on success, -1 on invalid JSON, too deep a nesting, or no memory. */
int json_parse(struct json_doc *d, const char *text, size_t len);
void json_free(struct json_doc *d);

/* Decodes string token i into a new NUL-terminated buffer (*out, *out_len bytes without the
 * NUL; free it). -1 when i is not a string, or holds an escaped lone surrogate (which UTF-8
 * cannot carry), or no memory. */
int json_string(const struct json_doc *d, size_t i, char **out, size_t *out_len);
/* String token i equals the NUL-terminated s (decoded; s holds no escapes). */
int json_string_is(const struct json_doc *d, size_t i, const char *s);

/* A growable output buffer; on no memory it latches `failed` and drops further output. */
struct json_buf {
	char *data;
	size_t len, cap;
	int failed;
};
void buf_put(struct json_buf *b, const char *s, size_t n);
void buf_puts(struct json_buf *b, const char *s);
/* Appends s[0..n) (valid UTF-8) as a JSON string, escaped as JSON.stringify does. */
void buf_put_json_string(struct json_buf *b, const char *s, size_t n);

#endif
