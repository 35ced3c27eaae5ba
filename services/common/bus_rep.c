#define SLB_LOG_MODULE "bus"
#include "bus.h"

#include <errno.h>
#include <event2/event.h>
#include <nng/protocol/reqrep0/rep.h>
#include <stdlib.h>
#include <string.h>

#include "bus_priv.h"
#include "log.h"

/* ------------------------------------------------------------ REP */

/* A raw REP socket drained on the loop: requests are read without
 * blocking through NNG_OPT_RECVFD and answered at once, the reply carrying
 * the request's backtrace header.  No thread hand-off, no ordering
 * constraint between requests, and a slow client cannot block the loop
 * (its replies wait in its pipe's queue, or are dropped and it resends). */
struct slb_rep {
	nng_socket sock;
	struct event *ev;
	slb_rep_h h;
	void *arg;
	uint64_t served, send_fail;
	struct slb_pub *pub; /* answers ReplayCall from its ring */
};

/* Field `want` at the top level of a protobuf message, length-delimited:
 * ReplayCall is told from a service's own request by its field 8 without
 * unpacking anything. */
static int
pb_has_field(const uint8_t *b, size_t n, uint32_t want)
{
	size_t i = 0;

	while (i < n) {
		uint64_t key = 0, v = 0;
		int sh = 0;

		do { /* the key, a varint */
			if (i >= n || sh > 63)
				return 0;
			key |= (uint64_t)(b[i] & 0x7f) << sh;
			sh += 7;
		} while (b[i++] & 0x80);
		if ((key >> 3) == want)
			return (key & 7) == 2;
		switch (key & 7) {
		case 0:
		case 2:
			sh = 0;
			do {
				if (i >= n || sh > 63)
					return 0;
				v |= (uint64_t)(b[i] & 0x7f) << sh;
				sh += 7;
			} while (b[i++] & 0x80);
			if ((key & 7) == 2) {
				if (v > n - i)
					return 0;
				i += (size_t)v;
			}
			break;
		case 1: i += 8; break;
		case 5: i += 4; break;
		default: return 0;
		}
	}
	return 0;
}

#define REPLAY_FIELD 8

static void
rep_readable(evutil_socket_t fd, short what, void *arg)
{
	struct slb_rep *r = arg;

	(void)fd;
	(void)what;
	/* bounded, so a flood cannot starve the rest of the loop */
	for (int i = 0; i < 256; i++) {
		nng_msg *req = NULL, *reply = NULL;
		int rv = nng_recvmsg(r->sock, &req, NNG_FLAG_NONBLOCK);

		if (rv == NNG_EAGAIN)
			return;
		if (rv != 0) {
			slb_log_warn("rep: receive: %s", nng_strerror(rv));
			return;
		}
		if (r->pub != NULL &&
		    pb_has_field(
			nng_msg_body(req), nng_msg_len(req), REPLAY_FIELD))
			slb_pub_replay(r->pub, req, &reply);
		else
			r->h(r->arg, req, &reply);
		if (reply != NULL &&
		    nng_msg_header_append(reply, nng_msg_header(req),
			nng_msg_header_len(req)) != 0) {
			nng_msg_free(reply);
			reply = NULL;
		}
		nng_msg_free(req);
		if (reply == NULL)
			continue;
		rv = nng_sendmsg(r->sock, reply, NNG_FLAG_NONBLOCK);
		if (rv != 0) {
			r->send_fail++;
			nng_msg_free(reply);
			slb_log_debug(
			    "rep: reply dropped: %s", nng_strerror(rv));
			continue;
		}
		r->served++;
	}
}

int
slb_rep_open(struct slb_rep **rp, struct event_base *base, const char *url,
    slb_rep_h h, void *arg)
{
	struct slb_rep *r = calloc(1, sizeof(*r));
	int rv, err;

	if (r == NULL)
		return ENOMEM;
	r->h = h;
	r->arg = arg;
	if ((rv = nng_rep0_open_raw(&r->sock)) != 0) {
		free(r);
		return slb_nng_errno(rv);
	}
	nng_socket_set_size(r->sock, NNG_OPT_RECVMAXSZ, SLB_MSG_MAX);
	nng_socket_set_int(r->sock, NNG_OPT_RECVBUF, 1024);
	nng_socket_set_int(r->sock, NNG_OPT_SENDBUF, 1024);
	if ((err = slb_bus_listen(r->sock, url)) != 0 ||
	    (err = slb_bus_recv_fd_event(
		 r->sock, base, rep_readable, r, &r->ev)) != 0) {
		slb_rep_close(r);
		return err;
	}
	*rp = r;
	return 0;
}

uint64_t
slb_rep_served(const struct slb_rep *r)
{
	return r->served;
}

void
slb_rep_close(struct slb_rep *r)
{
	if (r == NULL)
		return;
	if (r->ev)
		event_free(r->ev);
	nng_close(r->sock);
	free(r);
}

void
slb_rep_set_pub(struct slb_rep *r, struct slb_pub *p)
{
	r->pub = p;
	if (p != NULL)
		slb_pub_keep_ring(p);
}
