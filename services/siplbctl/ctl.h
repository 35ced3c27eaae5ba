#ifndef SIPLB_SIPLBCTL_CTL_H
#define SIPLB_SIPLBCTL_CTL_H

#include <stdint.h>

#include "msg.h"

/* siplbctl commands and helpers kept out of main.c. */

/* ------------------------------------------------------------ opts.c */

/* Every command's options, filled by ctl_parse_opts.  The caller zeroes
 * it (and inits the messages it sends); the strings point into argv. */
struct ctl_opts {
	Siplb__V1__NodeSpec spec;
	Siplb__V1__SelectRequest sel;
	char *resource[16];
	uint32_t exclude[64];
	int reset;
	int seen_weight, seen_prio;
	int seen_group, seen_set; /* select: which pool was named */
	Siplb__V1__DialogQuery dq;
};

/* argv[1..argc-1]: options only, no operands; 0 or -1. */
int ctl_parse_opts(int argc, char **argv, struct ctl_opts *o);
/* s as a number 0..UINT32_MAX; 0, or -1 after saying "what: s" is not
 * one on stderr. */
int ctl_parse_u32(const char *s, const char *what, uint32_t *out);

/* ------------------------------------------------------------ drain.c */

/* node drain|undrain ID [--pause-inbound] [--no-wait] [--wait S]:
 * argv[0] is "drain" or "undrain". */
int ctl_drain(
    const char *sched_rep, int timeout_ms, int json, int argc, char **argv);

/* doctor [--from ADDR] [--sip-timeout MS] [--node ID]: an INVITE with a
 * foreign X-AUTH-IP from the edge's address (default: the first udp:
 * host of edge_listen) to each node; a WARNING line for a node that lets
 * it in.  argv[0] is "doctor".  0 all right, 1 a warning, 2 trouble. */
int ctl_doctor(const char *sched_rep, int timeout_ms, int json,
    const char *edge_listen, int argc, char **argv);

/* The node's feedback state after its line in `siplbctl nodes`. */
struct Siplb__V1__Node;
void ctl_print_feedback(const struct Siplb__V1__Node *n);

/* siplbctl top: what main.c lends it, so that top.c asks the services
 * through the same calls (and messages) as `nodes` and `edge stats`. */
struct Siplb__V1__SchedRequest;
struct Siplb__V1__SchedReply;
struct Siplb__V1__StatsAnswer;
struct ProtobufCMessage;
struct ctl_top_io {
	/* one request to the scheduler: 0, or the exit code after saying why
	 * on stderr; *rp is then the caller's to slb_msg_free */
	int (*sched)(struct Siplb__V1__SchedRequest *q,
	    struct Siplb__V1__SchedReply **rp);
	/* a StatsAnswer from `url` (`what` names it in messages), same rule */
	int (*stats)(const char *what, const char *url,
	    struct ProtobufCMessage *req, struct Siplb__V1__StatsAnswer **rp);
	const char *sched_rep, *edge_rep;
	int timeout_ms;
};

/* top [--interval S] [--count N]: argv[0] is "top". */
int ctl_top(const struct ctl_top_io *io, int argc, char **argv);

#endif
