#ifndef SIPLB_EDGE_SIPBUF_H
#define SIPLB_EDGE_SIPBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sipmsg.h"

/*
 * Reading and writing SIP text for the proxy modules: views into a
 * received message (indexed by sipmsg.c; never copied, never owned), the
 * top Via and CSeq as the proxy core needs them, and a growing output
 * buffer for the messages the edge sends.  No state, no edge context.
 */

/* The longest method the edge keeps (a token of any length is valid,
 * RFC 3261 §25.1; longer ones are answered as unknown). */
#define EDGE_METHOD_MAX 64

/* A view: n bytes at p (p NULL when absent), not NUL-terminated. */
struct edge_str {
	const char *p;
	size_t n;
};

/* The value of header h of buf, or an empty view for NULL. */
struct edge_str edge_hval(const char *buf, const struct slb_sip_hdr *h);
/* s into dst (len bytes, always NUL-terminated; truncates). */
void edge_copy_str(char *dst, size_t len, struct edge_str s);
/* The tag= of a From/To header, outside its <URI>. */
struct edge_str edge_tag_of(const char *buf, const struct slb_sip_hdr *h);
/* FNV-1a of a "|" b: dialog keys, reply tags, ACK branches. */
uint64_t edge_fnv64(const char *a, size_t an, const char *b, size_t bn);
/* The address of ss as text, and its port. */
int edge_addr_ip(
    const struct sockaddr_storage *ss, char *ip, size_t len, int *port);
/* The usual reason phrase of a status code the edge sends. */
const char *edge_reason_of(int code);

/* Top Via's first element, its sent-by, branch and rport. */
struct edge_via {
	struct edge_str elem; /* "SIP/2.0/UDP host:port;branch=..." */
	struct edge_str sent_by;
	struct edge_str branch;
	bool has_rport;
	bool rport_empty;
};

/* ENOENT without a Via, EBADMSG without a sent-by. */
int edge_top_via(
    const char *buf, const struct slb_sipscan *sc, struct edge_via *v);
/* CSeq "num METHOD": ENOENT when missing, EBADMSG when malformed. */
int edge_cseq_method(const char *buf, const struct slb_sipscan *sc,
    struct edge_str *m, unsigned long *num);

/* An output message: p is malloc'ed and NUL-terminated, owned by whoever
 * filled it (free(o.p)); failed once an allocation or format failed, after
 * which writes are ignored. */
struct edge_out {
	char *p;
	size_t n, cap;
	bool failed;
};

void edge_out_put(struct edge_out *o, const char *s, size_t n);
void edge_out_str(struct edge_out *o, const char *s);
__attribute__((format(printf, 2, 3))) void
edge_out_fmt(struct edge_out *o, const char *fmt, ...);

#endif
