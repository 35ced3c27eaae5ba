#ifndef SIPLB_PROBER_ESL_H
#define SIPLB_PROBER_ESL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * FreeSWITCH event socket (mod_event_socket) framing, as the server
 * writes it: a block of "Name: value\n" headers ended by an empty line,
 * then Content-Length bytes of body when that header is present.
 * Content-Type tells what it is: auth/request, command/reply (Reply-Text
 * "+OK ..." / "-ERR ..."), api/response (the body is the command's
 * output), text/event-plain (the body is the event: headers again, their
 * values url-encoded, switch_event_serialize), text/disconnect-notice.
 * Pure code, no I/O: the link (esl_link.c) feeds it bytes.
 */

#define ESL_MAX_MSG (256 * 1024) /* headers and body of one message */
#define ESL_MAX_HDRS 64
#define ESL_MAX_HDR_BLOCK 8192 /* one header block */

struct esl_hdr {
	const char *name, *value; /* NUL-terminated, inside the msg */
};

struct esl_msg {
	char *buf; /* owned */
	struct esl_hdr h[ESL_MAX_HDRS];
	int nh;
	const char *body; /* NUL-terminated, body_len bytes */
	size_t body_len;
};

struct esl_parser {
	char *buf;
	size_t len, cap;
	uint64_t refused; /* messages refused as garbage */
};

void esl_parser_init(struct esl_parser *p);
void esl_parser_free(struct esl_parser *p);
/* Append bytes; ENOBUFS when more than ESL_MAX_MSG would wait. */
int esl_feed(struct esl_parser *p, const void *data, size_t n);
/* 1: the next message is in m (esl_msg_free it), 0: more bytes needed,
 * -1: garbage (a header line without a colon, a bad or oversized
 * Content-Length, a header block too big): drop the link. */
int esl_next(struct esl_parser *p, struct esl_msg *m);
void esl_msg_free(struct esl_msg *m);
/* A header's value (case-insensitive name), or NULL. */
const char *esl_get(const struct esl_msg *m, const char *name);

/* Parse "Name: value\n" lines of s (NUL-terminated, modified in place)
 * into h; with urldecode the values are %XX / '+' decoded.  Returns the
 * count, or -1 for a line without a colon or more than max headers. */
int esl_parse_headers(char *s, struct esl_hdr *h, int max, bool urldecode);

/* What a HEARTBEAT event says (switch_core.c send_heartbeat). */
struct esl_heartbeat {
	uint32_t sessions; /* Session-Count */
	uint32_t max_sessions; /* Max-Sessions */
	uint32_t sps_left; /* Session-Per-Sec (left this second) */
	uint32_t idle_milli; /* Idle-CPU, thousandths of a percent */
	bool have_max, have_idle, have_sps;
	char hostname[64]; /* FreeSWITCH-Hostname */
};

/* An event-plain body: 0 with hb filled for a HEARTBEAT, ENOENT for
 * another event, EBADMSG when it is garbage or lacks Session-Count. */
int
esl_heartbeat_parse(const char *body, size_t len, struct esl_heartbeat *hb);

/* What `api status` says (mod_commands.c status_function). */
struct esl_status {
	uint32_t sessions; /* "N session(s) - peak ..." */
	uint32_t sps_last; /* "N session(s) per Sec": last second */
	uint32_t sps_max; /* "... per Sec out of max N" */
	uint32_t max_sessions; /* "N session(s) max" */
	uint32_t idle_milli; /* "min idle cpu X/Y": Y */
	bool have_sessions, have_sps, have_max, have_idle;
	bool ready; /* "is ready" */
};

/* 0, or EBADMSG when none of the figures is there. */
int esl_status_parse(const char *body, size_t len, struct esl_status *st);

/* A strict unsigned decimal within max; 0 or EINVAL. */
int esl_u32(const char *s, uint32_t max, uint32_t *out);
/* "98.733333" (percent) into thousandths, 0..100000; 0 or EINVAL. */
int esl_percent_milli(const char *s, uint32_t *out);

/* Node attrs "esl=HOST:PORT;esl_password=PW;esl_interval=S" or
 * "esl=fs://[user]:PW@HOST[:PORT]" (OpenSIPS freeswitch URLs).  host gets
 * HOST (IPv6 without brackets), port 8021 when absent; password and
 * interval_s are left alone when the attrs do not give them.  ENOENT when
 * there is no esl attribute, EINVAL for a bad one. */
int esl_attrs_parse(const char *attrs, char *host, size_t hostlen, int *port,
    char *password, size_t pwlen, uint32_t *interval_s);

#endif
