/* json.c — strict JSON reader into a token array, and JSON.stringify's string escaping (json.h). */
#include "json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct parser {
	struct json_doc *d;
	size_t pos;
};

static int push(struct json_doc *d, enum json_type type, size_t start)
{
	if (d->n_toks == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		struct json_tok *t = realloc(d->toks, cap * sizeof *t);
		if (!t)
			return -1;
		d->toks = t;
		d->cap = cap;
	}
	d->toks[d->n_toks] = (struct json_tok){ type, start, start, d->n_toks + 1, 0 };
	return 0;
}

static void skip_ws(struct parser *p)
{
	const char *t = p->d->text;
	while (p->pos < p->d->len &&
	       (t[p->pos] == ' ' || t[p->pos] == '\t' || t[p->pos] == '\n' || t[p->pos] == '\r'))
		p->pos++;
}

static int peek(const struct parser *p)
{
	return p->pos < p->d->len ? (unsigned char)p->d->text[p->pos] : -1;
}

static int is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Length of the valid UTF-8 sequence at s[0..n) (Unicode's table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF), or 0. s[0] >= 0x80. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		if (s[0] == 0xE0)
			lo = 0xA0;
		else if (s[0] == 0xED)
			hi = 0x9F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		if (s[0] == 0xF0)
			lo = 0x90;
		else if (s[0] == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

static int parse_string(struct parser *p)
{
	const unsigned char *t = (const unsigned char *)p->d->text;
	size_t n = p->d->len;
	p->pos++; /* the opening quote */
	if (push(p->d, JSON_STRING, p->pos))
		return -1;
	struct json_tok *tok = &p->d->toks[p->d->n_toks++];
	while (p->pos < n) {
		unsigned char c = t[p->pos];
		if (c == '"') {
			tok->end = p->pos++;
			return 0;
		}
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			if (p->pos + 1 >= n)
				return -1;
			c = t[p->pos + 1];
			if (c == 'u') {
				if (p->pos + 6 > n)
					return -1;
				for (size_t i = 2; i < 6; i++)
					if (!is_hex(t[p->pos + i]))
						return -1;
				p->pos += 6;
			} else if (c && strchr("\"\\/bfnrt", c)) {
				p->pos += 2;
			} else
				return -1;
		} else if (c >= 0x80) {
			size_t len = utf8_len(t + p->pos, n - p->pos);
			if (!len)
				return -1;
			p->pos += len;
		} else
			p->pos++;
	}
	return -1;
}

static int digits(struct parser *p)
{
	size_t from = p->pos;
	while (peek(p) >= '0' && peek(p) <= '9')
		p->pos++;
	return p->pos > from ? 0 : -1;
}

static int parse_number(struct parser *p)
{
	size_t start = p->pos;
	if (peek(p) == '-')
		p->pos++;
	if (peek(p) == '0')
		p->pos++;
	else if (digits(p))
		return -1;
	if (peek(p) == '.') {
		p->pos++;
		if (digits(p))
			return -1;
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->pos++;
		if (peek(p) == '+' || peek(p) == '-')
			p->pos++;
		if (digits(p))
			return -1;
	}
	if (push(p->d, JSON_NUMBER, start))
		return -1;
	p->d->toks[p->d->n_toks++].end = p->pos;
	return 0;
}

static int parse_word(struct parser *p, const char *word, enum json_type type)
{
	size_t n = strlen(word);
	if (p->d->len - p->pos < n || memcmp(p->d->text + p->pos, word, n))
		return -1;
	if (push(p->d, type, p->pos))
		return -1;
	p->pos += n;
	p->d->toks[p->d->n_toks++].end = p->pos;
	return 0;
}

static int parse_value(struct parser *p, int depth);

/* An array or an object: its token first, then its members' subtrees. */
static int parse_container(struct parser *p, int depth)
{
	int object = peek(p) == '{';
	char close = object ? '}' : ']';
	size_t at = p->d->n_toks;
	if (depth >= JSON_MAX_DEPTH || push(p->d, object ? JSON_OBJECT : JSON_ARRAY, p->pos))
		return -1;
	p->d->n_toks++;
	p->pos++;
	skip_ws(p);
	size_t members = 0;
	if (peek(p) != close)
		for (;;) {
			if (object) {
				if (peek(p) != '"' || parse_string(p))
					return -1;
				skip_ws(p);
				if (peek(p) != ':')
					return -1;
				p->pos++;
			}
			if (parse_value(p, depth + 1))
				return -1;
			members++;
			skip_ws(p);
			if (peek(p) == close)
				break;
			if (peek(p) != ',')
				return -1;
			p->pos++;
			skip_ws(p);
		}
	p->pos++; /* the closing bracket */
	struct json_tok *tok = &p->d->toks[at]; /* after the members: push may have moved toks */
	tok->end = p->pos;
	tok->next = p->d->n_toks;
	tok->n = members;
	return 0;
}

static int parse_value(struct parser *p, int depth)
{
	skip_ws(p);
	switch (peek(p)) {
	case '{':
	case '[':
		return parse_container(p, depth);
	case '"':
		return parse_string(p);
	case 't':
		return parse_word(p, "true", JSON_TRUE);
	case 'f':
		return parse_word(p, "false", JSON_FALSE);
	case 'n':
		return parse_word(p, "null", JSON_NULL);
	default:
		return parse_number(p);
	}
}

int json_parse(struct json_doc *d, const char *text, size_t len)
{
	*d = (struct json_doc){ text, len, NULL, 0, 0 };
	struct parser p = { d, 0 };
	if (parse_value(&p, 0))
		return -1;
	skip_ws(&p);
	return p.pos == len ? 0 : -1;
}

void json_free(struct json_doc *d)
{
	free(d->toks);
	d->toks = NULL;
	d->n_toks = d->cap = 0;
}

static unsigned hex4(const char *s)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)s[i];
		v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
	}
	return v;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

int json_string(const struct json_doc *d, size_t i, char **out, size_t *out_len)
{
	if (i >= d->n_toks || d->toks[i].type != JSON_STRING)
		return -1;
	const char *s = d->text + d->toks[i].start;
	size_t n = d->toks[i].end - d->toks[i].start;
	/* Decoding never grows the text: an escape of 2 or 6 bytes gives at most 4. */
	char *o = malloc(n + 1);
	if (!o)
		return -1;
	size_t k = 0;
	for (size_t j = 0; j < n;) {
		if (s[j] != '\\') {
			o[k++] = s[j++];
			continue;
		}
		char c = s[j + 1]; /* the parser checked every escape's length */
		j += 2;
		if (c != 'u') {
			const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
			o[k++] = to[strchr(from, c) - from];
			continue;
		}
		unsigned cp = hex4(s + j);
		j += 4;
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			goto lone;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			if (j + 6 > n || s[j] != '\\' || s[j + 1] != 'u')
				goto lone;
			unsigned lo = hex4(s + j + 2);
			if (lo < 0xDC00 || lo > 0xDFFF)
				goto lone;
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
			j += 6;
		}
		k += put_utf8(o + k, cp);
	}
	o[k] = 0;
	*out = o;
	*out_len = k;
	return 0;
lone:
	free(o);
	return -1;
}

int json_string_is(const struct json_doc *d, size_t i, const char *s)
{
	char *v;
	size_t n;
	if (json_string(d, i, &v, &n))
		return 0;
	int same = n == strlen(s) && !memcmp(v, s, n);
	free(v);
	return same;
}

void buf_put(struct json_buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->cap - b->len < n + 1) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap - b->len < n + 1) {
			if (cap > SIZE_MAX / 2) {
				b->failed = 1;
				return;
			}
			cap *= 2;
		}
		char *data = realloc(b->data, cap);
		if (!data) {
			b->failed = 1;
			return;
		}
		b->data = data;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = 0;
}

void buf_puts(struct json_buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

void buf_put_json_string(struct json_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	buf_put(b, "\"", 1);
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = c == '"'    ? "\\\""
				  : c == '\\' ? "\\\\"
				  : c == '\b' ? "\\b"
				  : c == '\f' ? "\\f"
				  : c == '\n' ? "\\n"
				  : c == '\r' ? "\\r"
				  : c == '\t' ? "\\t"
					      : NULL;
		if (!esc && c >= 0x20)
			continue;
		buf_put(b, s + from, i - from);
		from = i + 1;
		if (esc) {
			buf_puts(b, esc);
		} else {
			char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
			buf_put(b, u, 6);
		}
	}
	buf_put(b, s + from, n - from);
	buf_put(b, "\"", 1);
}
