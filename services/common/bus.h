#ifndef SIPLB_COMMON_BUS_H
#define SIPLB_COMMON_BUS_H

#include <nng/nng.h>
#include <stdint.h>

#include "msg.h"

struct event_base;

/*
 * The bus: nng pub/sub and req/rep glued to one libevent loop per process.
 * nng sockets are polled through NNG_OPT_RECVFD and drained without
 * blocking; nng aio callbacks only queue work for the loop (slb_bridge).
 */

/* Default addresses of each service's PUB and REP: ipc files in [general]
 * run_dir (slb_cfg_ipc_path). */
#define SLB_ADDR_SCHEDULER_REP "ipc://scheduler.rep"
#define SLB_ADDR_SCHEDULER_PUB "ipc://scheduler.pub"
#define SLB_ADDR_EDGE_REP "ipc://edge.rep"
#define SLB_ADDR_EDGE_PUB "ipc://edge.pub"
#define SLB_ADDR_PROBER_REP "ipc://prober.rep"
#define SLB_ADDR_PROBER_PUB "ipc://prober.pub"
#define SLB_ADDR_DIALOGD_REP "ipc://dialogd.rep"
#define SLB_ADDR_DIALOGD_PUB "ipc://dialogd.pub"

/* ------------------------------------------------------------ the loop */

/* A loop that stops on SIGINT/SIGTERM and ignores SIGPIPE. */
int slb_loop_new(struct event_base **basep);
/* Run until stopped; 0 or EIO. */
int slb_loop_run(struct event_base *base);
void slb_loop_free(struct event_base *base);
/* Microseconds, CLOCK_MONOTONIC / CLOCK_REALTIME. */
uint64_t slb_now_us(void);
uint64_t slb_wall_us(void);

/* nng_close(s) on a thread of its own: for sockets a running loop
 * replaces (nng 1.5's close can hang; the loop must not). */
void slb_nng_close_off_loop(nng_socket s);

/* ------------------------------------------------- nng thread -> loop */

struct slb_bridge;
typedef void (*slb_bridge_h)(void *arg, void *data, int err);

int slb_bridge_new(struct slb_bridge **bp, struct event_base *base);
/* Thread-safe: run fn(arg, data, err) on the loop soon. */
void slb_bridge_post(
    struct slb_bridge *b, slb_bridge_h fn, void *arg, void *data, int err);
void slb_bridge_free(struct slb_bridge *b);

/* ------------------------------------------------------------ REP */

/* Handle one request; set *replyp to the answer (taken by the caller) or
 * leave it NULL to send nothing. The request stays the caller's. */
typedef void (*slb_rep_h)(void *arg, nng_msg *req, nng_msg **replyp);

struct slb_rep;
/* Listen on url; requests are read and answered on the loop, without
 * blocking it. */
int slb_rep_open(struct slb_rep **rp, struct event_base *base, const char *url,
    slb_rep_h h, void *arg);
void slb_rep_close(struct slb_rep *r);
/* Let this REP answer replay requests (ReplayCall) from p's ring itself,
 * before the service's handler sees them; p keeps its last messages from
 * now on (a ring of 32,768 messages or 32 MiB at most). */
struct slb_pub;
void slb_rep_set_pub(struct slb_rep *r, struct slb_pub *p);
uint64_t slb_rep_served(const struct slb_rep *r);

/* ------------------------------------------------------------ PUB */

struct slb_pub;
/* Listen on url; messages are numbered in stream `stream` from 1, with an
 * epoch that changes on every start. */
int slb_pub_open(struct slb_pub **pp, const char *url, const char *stream);
/* Fills version, stream, epoch and the next seq, then sends. */
int slb_pub_send(struct slb_pub *p, Siplb__V1__BusMessage *m);
/* Send a body-less message with the epoch and the last seq used; publishers
 * send one every second or so, so that subscribers notice a restart or a
 * lost message even when nothing else happens. */
int slb_pub_heartbeat(struct slb_pub *p);
/* Use up the next seq without sending: what a lost message looks like to
 * subscribers (tests). */
void slb_pub_skip(struct slb_pub *p);
uint64_t slb_pub_seq(const struct slb_pub *p);
uint64_t slb_pub_epoch(const struct slb_pub *p);
/* Replay requests answered from the ring of the last messages sent. */
uint64_t slb_pub_replays(const struct slb_pub *p);
const char *slb_pub_stream(const struct slb_pub *p);
void slb_pub_close(struct slb_pub *p);

/* ------------------------------------------------------------ SUB */

struct slb_sub_ops {
	/* A delta, in order, with no gap before it. */
	void (*on_message)(void *arg, const Siplb__V1__BusMessage *m);
	/* A full state that replaces what came from this stream before. */
	void (*on_snapshot)(void *arg, const Siplb__V1__Snapshot *s);
	/* 1: keep history.  Before each snapshot is applied, the messages
	 * missed since the last one applied (of a restarted publisher: since
	 * its start; at our own start: what its ring holds) are replayed
	 * from the publisher's ring through on_message, so a subscriber that
	 * records events (dialogd) loses none of those that came and went
	 * while it was not listening. */
	int history;
};

struct slb_sub_stats {
	uint64_t received; /* deltas delivered */
	uint64_t gaps; /* seq jumps seen */
	uint64_t restarts; /* new epochs seen */
	uint64_t resyncs; /* snapshots applied */
	uint64_t dropped; /* garbage, wrong version, stale */
	uint64_t replayed; /* missed messages replayed (history) */
	uint64_t history_lost; /* replays that could not cover a gap */
};

struct slb_sub;
/* Subscribe to pub_url; when rep_url is set, ask it for a snapshot at start,
 * on a restart of the publisher and on every gap, and continue from the
 * snapshot's seq.  `name` is for logs ("prober", "edge 1"). */
int slb_sub_open(struct slb_sub **sp, struct event_base *base,
    struct slb_bridge *br, const char *name, const char *pub_url,
    const char *rep_url, const struct slb_sub_ops *ops, void *arg);
void slb_sub_get_stats(const struct slb_sub *s, struct slb_sub_stats *st);
/* Ask for a snapshot now (keeping the place in the stream: a history
 * subscriber gets only what came after its last message replayed). */
void slb_sub_resync(struct slb_sub *s);
/* 1 once a snapshot (or, without rep_url, a first message) arrived. */
int slb_sub_synced(const struct slb_sub *s);
void slb_sub_close(struct slb_sub *s);

/* Counters for a StatsReply (siplb-admin's /metrics), in arrays the caller
 * owns (cap entries; what does not fit is left out). */
struct slb_counters {
	Siplb__V1__StatsReply sr;
	Siplb__V1__Counter *c;
	Siplb__V1__Counter **cp;
	size_t cap;
};
/* counters a subscriber adds with slb_counters_add_sub */
#define SLB_SUB_COUNTERS 7

void slb_counters_init(struct slb_counters *k, Siplb__V1__Counter *c,
    Siplb__V1__Counter **cp, size_t cap);
void slb_counter_add(
    struct slb_counters *k, const char *name, const char *label, uint64_t v);
/* A subscriber's bus statistics, labelled `label` (its name). */
void slb_counters_add_sub(
    struct slb_counters *k, const struct slb_sub *s, const char *label);

/* ------------------------------------------------------------ REQ */

/* Blocking call for clients: dial url, send req, wait up to timeout_ms for
 * a reply, resending every timeout_ms/(retries+1). ETIMEDOUT when nobody
 * answered. On success *replyp is unpacked as reply_desc.  One socket per
 * url serves every call of the process (from one thread at a time). */
int slb_req_call(const char *url, ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *reply_desc, int timeout_ms, int retries,
    ProtobufCMessage **replyp);

/* Asynchronous requests from the loop, many at once (nng contexts). */
struct slb_reqc;
typedef void (*slb_reply_h)(void *arg, int err, nng_msg *reply);

int slb_reqc_open(struct slb_reqc **rcp, struct slb_bridge *br,
    const char *url, int resend_ms);
/* Send req (taken on success); cb runs on the loop with the reply (owned by
 * cb) or an error (ETIMEDOUT, ECANCELED on close). */
int slb_reqc_send(struct slb_reqc *rc, nng_msg *req, int timeout_ms,
    slb_reply_h cb, void *arg);
void slb_reqc_close(struct slb_reqc *rc);

#endif
