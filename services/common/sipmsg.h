#ifndef SIPLB_COMMON_SIPMSG_H
#define SIPLB_COMMON_SIPMSG_H

#include <stddef.h>
#include <stdint.h>

/*
 * A raw index of a SIP message: where the start line, each header line and
 * the body are in the received bytes.  libosip2 parses the message for
 * meaning; this index lets the proxy relay by editing those bytes (add
 * Via and Record-Route, drop its Route, rewrite Max-Forwards) instead of
 * serialising a new message.  It never allocates.
 */

#define SLB_SIP_MAX_HDRS 128

enum slb_sip_hdr_type {
	SLB_H_OTHER = 0,
	SLB_H_VIA,
	SLB_H_ROUTE,
	SLB_H_RECORD_ROUTE,
	SLB_H_MAX_FORWARDS,
	SLB_H_FROM,
	SLB_H_TO,
	SLB_H_CALL_ID,
	SLB_H_CSEQ,
	SLB_H_CONTENT_LENGTH,
	SLB_H_CONTACT,
	SLB_H_PATH,
};

struct slb_sip_hdr {
	uint8_t type;
	uint32_t off; /* start of the line */
	uint32_t len; /* whole line with CRLF (and folded lines) */
	uint32_t voff, vlen; /* value, trimmed */
	uint32_t noff, nlen; /* name */
};

struct slb_sipscan {
	uint32_t line_len; /* start line with its CRLF */
	uint32_t hdrs_end; /* offset of the empty line */
	uint32_t body_off; /* after the empty line */
	int nhdrs;
	struct slb_sip_hdr h[SLB_SIP_MAX_HDRS];
};

/* Index buf (not NUL-terminated is fine). EBADMSG when there is no empty
 * line or a header line has no colon, E2BIG over SLB_SIP_MAX_HDRS. */
int slb_sip_scan(const char *buf, size_t len, struct slb_sipscan *s);

/* The first header of a type, or NULL. */
const struct slb_sip_hdr *
slb_sip_find(const struct slb_sipscan *s, enum slb_sip_hdr_type t);

/* Length of the first element of a comma-separated header value
 * ("<sip:a;lr>, <sip:b>" -> the first), minding quotes and <>. */
size_t slb_sip_first_elem(const char *v, size_t len);

/* Find ";name=value" (or ";name" alone) in a header value or URI part
 * that ends at len; sets *val and *vlen (vlen 0 for a flag). 0 or ENOENT. */
int slb_sip_param(const char *v, size_t len, const char *name,
    const char **val, size_t *vlen);

/* Case-insensitive compare of a counted string with a C string. */
int slb_sip_eq(const char *a, size_t alen, const char *b);

/* Parse the content-length framing of a stream buffer: returns the length
 * of the first complete message in buf, 0 when more bytes are needed, or
 * -1 for garbage (no Content-Length on a stream, or too big). */
long slb_sip_frame(const char *buf, size_t len, size_t max);

#endif
