#define SLB_LOG_MODULE "bus"
#include "bus.h"

#include <errno.h>
#include <event2/event.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bus_priv.h"
#include "log.h"

/* ------------------------------------------------------------ REQ async */

struct req_call;

struct slb_reqc {
	nng_socket sock;
	struct slb_bridge *br;
	struct req_call *calls; /* outstanding, for close */
};

struct req_call {
	nng_ctx ctx;
	nng_aio *aio;
	struct slb_bridge *br;
	struct slb_reqc *rc; /* NULL once the socket closed */
	struct req_call *prev, *next;
	int sent;
	slb_reply_h cb;
	void *arg;
};

static void
req_call_done(void *arg, void *data, int err)
{
	struct req_call *c = arg;

	if (c->rc != NULL) {
		if (c->prev)
			c->prev->next = c->next;
		else
			c->rc->calls = c->next;
		if (c->next)
			c->next->prev = c->prev;
	}
	/* On the loop.  nng_aio_free waits for the aio callback to return
	 * and must not be called from inside it. */
	nng_aio_free(c->aio);
	nng_ctx_close(c->ctx);
	c->cb(c->arg, err, data);
	free(c);
}

static void
req_call_aio(void *arg)
{
	struct req_call *c = arg;
	int rv = nng_aio_result(c->aio);

	if (rv != 0) {
		if (!c->sent) {
			nng_msg *m = nng_aio_get_msg(c->aio);
			if (m != NULL)
				nng_msg_free(m);
		}
		slb_bridge_post(c->br, req_call_done, c, NULL,
		    rv == NNG_ECLOSED ? ECANCELED : slb_nng_errno(rv));
		return;
	}
	if (!c->sent) {
		c->sent = 1;
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	slb_bridge_post(c->br, req_call_done, c, nng_aio_get_msg(c->aio), 0);
}

int
slb_reqc_open(struct slb_reqc **rcp, struct slb_bridge *br, const char *url,
    int resend_ms)
{
	struct slb_reqc *rc = calloc(1, sizeof(*rc));
	int rv;

	if (rc == NULL)
		return ENOMEM;
	rc->br = br;
	if ((rv = nng_req0_open(&rc->sock)) != 0) {
		free(rc);
		return slb_nng_errno(rv);
	}
	nng_socket_set_size(rc->sock, NNG_OPT_RECVMAXSZ, SLB_MSG_MAX);
	nng_socket_set_ms(rc->sock, NNG_OPT_REQ_RESENDTIME,
	    resend_ms > 0 ? resend_ms : NNG_DURATION_INFINITE);
	nng_socket_set_ms(rc->sock, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(rc->sock, NNG_OPT_RECONNMAXT, 1000);
	/* NONBLOCK: keep retrying in the background until the peer is up */
	rv = nng_dial(rc->sock, url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		slb_log_err("cannot dial %s: %s", url, nng_strerror(rv));
		nng_close(rc->sock);
		free(rc);
		return slb_nng_errno(rv);
	}
	*rcp = rc;
	return 0;
}

int
slb_reqc_send(struct slb_reqc *rc, nng_msg *req, int timeout_ms,
    slb_reply_h cb, void *arg)
{
	struct req_call *c = calloc(1, sizeof(*c));
	int rv;

	if (c == NULL)
		return ENOMEM;
	c->br = rc->br;
	c->rc = rc;
	c->cb = cb;
	c->arg = arg;
	if ((rv = nng_ctx_open(&c->ctx, rc->sock)) != 0) {
		free(c);
		return slb_nng_errno(rv);
	}
	if ((rv = nng_aio_alloc(&c->aio, req_call_aio, c)) != 0) {
		nng_ctx_close(c->ctx);
		free(c);
		return slb_nng_errno(rv);
	}
	c->next = rc->calls;
	if (rc->calls)
		rc->calls->prev = c;
	rc->calls = c;
	/* one deadline for send and receive together */
	nng_aio_set_timeout(c->aio, timeout_ms);
	nng_aio_set_msg(c->aio, req);
	nng_ctx_send(c->ctx, c->aio);
	return 0;
}

void
slb_reqc_close(struct slb_reqc *rc)
{
	if (rc == NULL)
		return;
	/* let every outstanding call finish (cancelled) into the bridge,
	 * which runs its completion on the loop or when it is freed */
	for (struct req_call *c = rc->calls; c != NULL; c = c->next) {
		nng_aio_stop(c->aio);
		c->rc = NULL;
	}
	/* a peer that is stopped (SIGSTOP) while a request is out can make
	 * nng 1.5's close wait for good: never on the caller's thread */
	slb_nng_close_off_loop(rc->sock);
	free(rc);
}

/*
 * Blocking calls reuse one REQ socket per address for the life of the
 * process: nng 1.5's nng_close can hang (see slb_nng_close_off_loop), and
 * a call that opened and closed a socket each time hung an edge's loop
 * after it had been stopped and resumed.  A handful of addresses at most.
 */
#define REQ_SOCKETS 32

static struct {
	char url[256];
	nng_socket s;
} req_socks[REQ_SOCKETS];
static int n_req_socks;
static pthread_mutex_t req_mu = PTHREAD_MUTEX_INITIALIZER;

static int
req_socket(const char *url, nng_socket *sp)
{
	nng_socket s;
	int rv, err = 0;

	if (strlen(url) >= sizeof(req_socks[0].url))
		return ENAMETOOLONG;
	pthread_mutex_lock(&req_mu);
	for (int i = 0; i < n_req_socks; i++)
		if (strcmp(req_socks[i].url, url) == 0) {
			*sp = req_socks[i].s;
			goto out;
		}
	if (n_req_socks == REQ_SOCKETS) {
		err = ENOBUFS;
		goto out;
	}
	if ((rv = nng_req0_open(&s)) != 0) {
		err = slb_nng_errno(rv);
		goto out;
	}
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, SLB_MSG_MAX);
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 200);
	if ((rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		nng_close(s); /* never connected: nothing to wait for */
		err = slb_nng_errno(rv);
		goto out;
	}
	snprintf(
	    req_socks[n_req_socks].url, sizeof(req_socks[0].url), "%s", url);
	req_socks[n_req_socks++].s = s;
	*sp = s;
out:
	pthread_mutex_unlock(&req_mu);
	return err;
}

/* ------------------------------------------------------------ REQ sync */

int
slb_req_call(const char *url, ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *reply_desc, int timeout_ms, int retries,
    ProtobufCMessage **replyp)
{
	nng_socket s;
	nng_msg *msg = NULL;
	int rv, err;

	if ((err = req_socket(url, &s)) != 0)
		return err;
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME,
	    timeout_ms / (retries + 1) > 0 ? timeout_ms / (retries + 1) : 1);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms);
	if ((err = slb_msg_pack(req, &msg)) != 0)
		goto out;
	if ((rv = nng_sendmsg(s, msg, 0)) != 0) {
		nng_msg_free(msg);
		err = slb_nng_errno(rv);
		goto out;
	}
	msg = NULL;
	if ((rv = nng_recvmsg(s, &msg, 0)) != 0) {
		err = slb_nng_errno(rv);
		goto out;
	}
	err = slb_msg_unpack(reply_desc, msg, SLB_MSG_MAX, replyp);
	nng_msg_free(msg);
out:
	/* the socket stays for the next call: a new request cancels one
	 * that timed out, and a late reply to it is discarded by its id */
	return err;
}
