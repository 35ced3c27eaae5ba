#define SLB_LOG_MODULE "esl"
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "esl.h"
#include "log.h"
#include "prober.h"

/*
 * One event-socket link per FreeSWITCH node that has an esl attribute:
 * connect, `auth`, `event plain HEARTBEAT`, `api status` (figures at
 * once instead of after the first HEARTBEAT), then every HEARTBEAT is
 * published as a NodeFeedback on the prober's stream.  The link comes
 * back with a doubling back-off; a link silent for ESL_DEAD_INTERVALS
 * intervals is dropped and dialled again (a dead host never closes it).
 * Staleness itself is the scheduler's call: it ages the figures.
 *
 * FreeSWITCH has no command to set its HEARTBEAT interval at run time:
 * it is switch.conf.xml's event-heartbeat-interval (20 s by default),
 * read at start.  The link is told the interval (esl_interval) and warns
 * when the node's HEARTBEATs come at another pace.
 */

#define ESL_SETUP_MS 5000 /* connect + auth + subscribe */
#define ESL_RETRY_MIN_MS 1000
#define ESL_DEAD_INTERVALS 5
#define ESL_PEND_MAX 8

enum esl_state {
	ESL_IDLE = 0, /* waiting to dial again */
	ESL_CONNECTING,
	ESL_AUTH_WAIT, /* connected, no auth/request yet */
	ESL_AUTH_SENT,
	ESL_RUNNING,
};

enum esl_cmd { CMD_EVENT = 1, CMD_STATUS, CMD_PAUSE, CMD_RESUME };

struct prb_esl {
	struct prb *p;
	uint32_t node_id;
	char host[128];
	int port;
	char password[SLB_CFG_STRLEN];
	uint32_t interval_ms;

	enum esl_state st;
	struct bufferevent *bev;
	struct event *t_retry;
	struct event *t_watch;
	struct esl_parser parser;
	uint32_t retry_ms;
	uint64_t since_us; /* state entered */
	enum esl_cmd pend[ESL_PEND_MAX];
	int npend;

	bool have;
	uint64_t at_us; /* last figures */
	uint32_t sessions, max_sessions, idle_milli, sps_left, sps_max;
	char hostname[64];
	bool want_pause, paused, pause_pending;
	bool silence_logged, pace_warned;
	uint64_t last_hb_us;
	uint64_t heartbeats, refused, links;
};

static void dial(struct prb_esl *l);

static const char *
who(const struct prb_esl *l, char *buf, size_t len)
{
	snprintf(buf, len, "node %u ESL %s:%d", l->node_id, l->host, l->port);
	return buf;
}

void
prb_esl_fill(const struct prb_esl *l, Siplb__V1__NodeFeedback *f, char *esl,
    size_t esllen)
{
	uint64_t now = slb_now_us();

	siplb__v1__node_feedback__init(f);
	snprintf(esl, esllen, "%s:%d", l->host, l->port);
	f->node_id = l->node_id;
	f->linked = l->st == ESL_RUNNING;
	f->have = l->have;
	f->session_count = l->sessions;
	f->max_sessions = l->max_sessions;
	f->idle_cpu_milli = l->idle_milli;
	f->sps_left = l->sps_left;
	f->sps_max = l->sps_max;
	f->interval_ms = l->interval_ms;
	f->age_ms = l->have && now > l->at_us
	    ? (uint32_t)((now - l->at_us) / 1000)
	    : 0;
	f->hostname = (char *)l->hostname;
	f->esl = esl;
	f->paused = l->paused;
	f->stale = l->have && now - l->at_us > 2000ull * l->interval_ms;
}

static void
publish(struct prb_esl *l)
{
	Siplb__V1__BusMessage m = SIPLB__V1__BUS_MESSAGE__INIT;
	Siplb__V1__NodeFeedback f;
	char esl[160];

	prb_esl_fill(l, &f, esl, sizeof(esl));
	m.body_case = SIPLB__V1__BUS_MESSAGE__BODY_FEEDBACK;
	m.feedback = &f;
	if (slb_pub_send(l->p->pub, &m) != 0)
		slb_log_warn(
		    "node %u: ESL figures could not be published", l->node_id);
}

static void
set_state(struct prb_esl *l, enum esl_state st)
{
	l->st = st;
	l->since_us = slb_now_us();
}

/* Close the link and dial again after the back-off. */
static void
drop(struct prb_esl *l, const char *why)
{
	char w[200];
	struct timeval tv;
	bool was_running = l->st == ESL_RUNNING;

	if (why != NULL)
		slb_log_warn("%s: %s; again in %u ms", who(l, w, sizeof(w)),
		    why, l->retry_ms);
	if (l->bev != NULL)
		bufferevent_free(l->bev);
	l->bev = NULL;
	esl_parser_free(&l->parser);
	l->npend = 0;
	l->pause_pending = false;
	l->paused = false;
	set_state(l, ESL_IDLE);
	if (was_running)
		publish(l); /* linked = false: the scheduler counts */
	tv.tv_sec = l->retry_ms / 1000;
	tv.tv_usec = (l->retry_ms % 1000) * 1000;
	evtimer_add(l->t_retry, &tv);
	l->retry_ms = l->retry_ms * 2 > (uint32_t)l->p->cfg.esl_retry_max_ms
	    ? (uint32_t)l->p->cfg.esl_retry_max_ms
	    : l->retry_ms * 2;
}

static int
send_cmd(struct prb_esl *l, const char *cmd, enum esl_cmd kind)
{
	if (kind != 0) {
		if (l->npend >= ESL_PEND_MAX)
			return ENOBUFS;
		l->pend[l->npend++] = kind;
	}
	/* commands end with an empty line; the password stays out of logs */
	if (bufferevent_write(l->bev, cmd, strlen(cmd)) != 0 ||
	    bufferevent_write(l->bev, "\n\n", 2) != 0)
		return EIO;
	return 0;
}

static enum esl_cmd
pend_pop(struct prb_esl *l)
{
	enum esl_cmd c;

	if (l->npend == 0)
		return 0;
	c = l->pend[0];
	memmove(
	    l->pend, l->pend + 1, (size_t)(l->npend - 1) * sizeof(l->pend[0]));
	l->npend--;
	return c;
}

/* Pause or resume inbound calls as the drain says. */
static void
pause_sync(struct prb_esl *l)
{
	if (l->st != ESL_RUNNING || l->pause_pending ||
	    l->want_pause == l->paused)
		return;
	if (send_cmd(l,
		l->want_pause ? "api fsctl pause inbound"
			      : "api fsctl resume inbound",
		l->want_pause ? CMD_PAUSE : CMD_RESUME) == 0)
		l->pause_pending = true;
}

static void
on_heartbeat(struct prb_esl *l, const struct esl_heartbeat *hb)
{
	uint64_t now = slb_now_us();
	char w[200];

	if (l->last_hb_us != 0 && !l->pace_warned) {
		uint64_t gap = (now - l->last_hb_us) / 1000;

		if (gap > l->interval_ms * 3ull / 2 + 500 ||
		    gap * 2 < l->interval_ms) {
			slb_log_warn(
			    "%s: HEARTBEAT every %llu ms, expected %u "
			    "ms: set event-heartbeat-interval in the node's "
			    "switch.conf.xml and esl_interval alike",
			    who(l, w, sizeof(w)), (unsigned long long)gap,
			    l->interval_ms);
			l->pace_warned = true;
		}
	}
	if (l->silence_logged)
		slb_log_notice("%s: HEARTBEAT again", who(l, w, sizeof(w)));
	l->silence_logged = false;
	l->last_hb_us = now;
	l->heartbeats++;
	l->have = true;
	l->at_us = now;
	l->sessions = hb->sessions;
	if (hb->have_max)
		l->max_sessions = hb->max_sessions;
	if (hb->have_idle)
		l->idle_milli = hb->idle_milli;
	if (hb->have_sps)
		l->sps_left = hb->sps_left;
	if (hb->hostname[0])
		snprintf(l->hostname, sizeof(l->hostname), "%s", hb->hostname);
	slb_log_debug("%s: HEARTBEAT sessions %u/%u idle %u.%03u%% sps %u",
	    who(l, w, sizeof(w)), l->sessions, l->max_sessions,
	    l->idle_milli / 1000, l->idle_milli % 1000, l->sps_left);
	publish(l);
}

/* auth/request: the node asks for the password */
static bool
on_auth_request(struct prb_esl *l)
{
	char cmd[SLB_CFG_STRLEN + 8];

	snprintf(cmd, sizeof(cmd), "auth %s", l->password);
	if (send_cmd(l, cmd, 0) != 0) {
		drop(l, "cannot send auth");
		return false;
	}
	set_state(l, ESL_AUTH_SENT);
	return true;
}

/* command/reply: to our auth (then subscribe and ask the status), or to
 * a command of ours */
static bool
on_command_reply(struct prb_esl *l, const struct esl_msg *m)
{
	const char *rt = esl_get(m, "Reply-Text");
	char w[200];

	if (l->st == ESL_AUTH_SENT) {
		if (rt == NULL || strncmp(rt, "+OK", 3) != 0) {
			/* the server closes; wait the longest */
			l->retry_ms = (uint32_t)l->p->cfg.esl_retry_max_ms;
			drop(l, "password refused (check esl_password)");
			return false;
		}
		set_state(l, ESL_RUNNING);
		l->retry_ms = ESL_RETRY_MIN_MS;
		l->links++;
		l->last_hb_us = 0;
		l->pace_warned = false;
		slb_log_notice("%s: linked; HEARTBEAT expected every %u "
			       "ms",
		    who(l, w, sizeof(w)), l->interval_ms);
		if (send_cmd(l, "event plain HEARTBEAT", CMD_EVENT) != 0 ||
		    send_cmd(l, "api status", CMD_STATUS) != 0) {
			drop(l, "cannot subscribe");
			return false;
		}
		pause_sync(l);
		publish(l);
		return true;
	}
	if (pend_pop(l) == CMD_EVENT &&
	    (rt == NULL || strncmp(rt, "+OK", 3) != 0))
		slb_log_warn("%s: event subscription refused: %s",
		    who(l, w, sizeof(w)), rt ? rt : "no reply text");
	return true;
}

/* The answer to api status: the figures it has */
static void
on_status(struct prb_esl *l, const struct esl_msg *m)
{
	struct esl_status s;
	char w[200];

	if (esl_status_parse(m->body, m->body_len, &s) != 0) {
		l->refused++;
		slb_log_info("%s: api status answer not understood",
		    who(l, w, sizeof(w)));
		return;
	}
	if (s.have_sps) {
		/* until the first HEARTBEAT says what is left this second,
		 * what the last one left (the scheduler holds a node with
		 * none left) */
		l->sps_max = s.sps_max;
		l->sps_left =
		    s.sps_last < s.sps_max ? s.sps_max - s.sps_last : 0;
	}
	if (s.have_max)
		l->max_sessions = s.max_sessions;
	if (s.have_idle)
		l->idle_milli = s.idle_milli;
	if (s.have_sessions) {
		l->sessions = s.sessions;
		l->have = true;
		l->at_us = slb_now_us();
	}
	publish(l);
}

/* api/response: to api status or fsctl pause/resume inbound */
static void
on_api_response(struct prb_esl *l, const struct esl_msg *m)
{
	enum esl_cmd c = pend_pop(l);
	char w[200];

	if (c == CMD_STATUS) {
		on_status(l, m);
	} else if (c == CMD_PAUSE || c == CMD_RESUME) {
		bool ok = strncmp(m->body, "+OK", 3) == 0;

		l->pause_pending = false;
		if (ok)
			l->paused = c == CMD_PAUSE;
		slb_log_notice("%s: fsctl %s inbound: %.60s",
		    who(l, w, sizeof(w)), c == CMD_PAUSE ? "pause" : "resume",
		    ok ? "done" : m->body);
		publish(l);
		if (ok)
			pause_sync(l); /* the drain may have ended */
	}
}

/* One whole message from the node; false when the link was dropped. */
static bool
on_msg(struct prb_esl *l, const struct esl_msg *m)
{
	const char *ct = esl_get(m, "Content-Type");
	char w[200];

	if (ct == NULL)
		return true;
	if (strcmp(ct, "auth/request") == 0 && l->st == ESL_AUTH_WAIT)
		return on_auth_request(l);
	if (strcmp(ct, "command/reply") == 0)
		return on_command_reply(l, m);
	if (strcmp(ct, "api/response") == 0) {
		on_api_response(l, m);
		return true;
	}
	if (strcmp(ct, "text/event-plain") == 0) {
		struct esl_heartbeat hb;
		int rc = esl_heartbeat_parse(m->body, m->body_len, &hb);

		if (rc == 0)
			on_heartbeat(l, &hb);
		else if (rc == EBADMSG) {
			l->refused++;
			slb_log_info("%s: an event that is not well formed: "
				     "ignored",
			    who(l, w, sizeof(w)));
		}
		return true;
	}
	if (strcmp(ct, "text/disconnect-notice") == 0 ||
	    strcmp(ct, "text/rude-rejection") == 0) {
		drop(l,
		    strcmp(ct, "text/rude-rejection") == 0
			? "rejected (the node's event socket ACL)"
			: "the node closed the link");
		return false;
	}
	return true;
}

static void
on_read(struct bufferevent *bev, void *arg)
{
	struct prb_esl *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[4096], w[200];
	int n;

	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		struct esl_msg m;
		int rc;

		if (esl_feed(&l->parser, buf, (size_t)n) != 0) {
			l->refused++;
			drop(l, "a message larger than 256 KiB");
			return;
		}
		while ((rc = esl_next(&l->parser, &m)) == 1) {
			bool alive = on_msg(l, &m);

			esl_msg_free(&m);
			if (!alive)
				return;
		}
		if (rc < 0) {
			l->refused++;
			snprintf(w, sizeof(w),
			    "garbage on the event socket "
			    "(not mod_event_socket framing)");
			drop(l, w);
			return;
		}
	}
}

static void
on_event(struct bufferevent *bev, short what, void *arg)
{
	struct prb_esl *l = arg;
	char w[200];

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		set_state(l, ESL_AUTH_WAIT);
		slb_log_debug("%s: connected", who(l, w, sizeof(w)));
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		int e = EVUTIL_SOCKET_ERROR();

		snprintf(w, sizeof(w), "%s",
		    what & BEV_EVENT_EOF ? "closed by the node"
					 : evutil_socket_error_to_string(e));
		drop(l, w);
	}
}

static void
dial(struct prb_esl *l)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char port[8], w[200];
	int rc;

	snprintf(port, sizeof(port), "%d", l->port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(l->host, port, &hints, &ai)) != 0 ||
	    ai == NULL) {
		snprintf(w, sizeof(w), "cannot resolve: %s", gai_strerror(rc));
		drop(l, w);
		return;
	}
	esl_parser_init(&l->parser);
	l->bev = bufferevent_socket_new(l->p->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (l->bev == NULL) {
		freeaddrinfo(ai);
		drop(l, "out of memory");
		return;
	}
	bufferevent_setcb(l->bev, on_read, NULL, on_event, l);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	set_state(l, ESL_CONNECTING);
	rc = bufferevent_socket_connect(
	    l->bev, ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (rc != 0)
		drop(l, "cannot connect");
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dial(arg);
}

static void
on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct prb_esl *l = arg;
	uint64_t now = slb_now_us(), iv = (uint64_t)l->interval_ms * 1000u;
	char w[200];

	(void)fd;
	(void)what;
	if (l->st != ESL_IDLE && l->st != ESL_RUNNING &&
	    now - l->since_us > ESL_SETUP_MS * 1000ull) {
		drop(l, "no answer to the connection or to auth in time");
		return;
	}
	if (l->st != ESL_RUNNING)
		return;
	/* silence since the link came up or since the last HEARTBEAT */
	{
		uint64_t last = l->last_hb_us ? l->last_hb_us : l->since_us;

		if (now - last > 2 * iv && !l->silence_logged) {
			slb_log_warn(
			    "%s: no HEARTBEAT for %llu ms (interval %u "
			    "ms): its figures are stale",
			    who(l, w, sizeof(w)),
			    (unsigned long long)((now - last) / 1000),
			    l->interval_ms);
			l->silence_logged = true;
			publish(l);
		}
		if (now - last > ESL_DEAD_INTERVALS * iv)
			drop(l, "silent for five intervals: dialling again");
	}
}

static void
esl_free(struct prb_esl *l)
{
	if (l == NULL)
		return;
	if (l->bev)
		bufferevent_free(l->bev);
	if (l->t_retry)
		event_free(l->t_retry);
	if (l->t_watch)
		event_free(l->t_watch);
	esl_parser_free(&l->parser);
	free(l);
}

void
prb_esl_forget(struct prb_node *n)
{
	esl_free(n->esl);
	n->esl = NULL;
}

void
prb_esl_sync(struct prb *p, struct prb_node *n, const struct lb_node *sn)
{
	char host[128], pw[SLB_CFG_STRLEN];
	int port, rc;
	uint32_t iv_s = (uint32_t)(p->cfg.esl_interval_ms + 999) / 1000;
	struct prb_esl *l = n->esl;
	struct timeval tv = { 0, 0 };

	snprintf(pw, sizeof(pw), "%s", p->cfg.esl_password);
	rc = esl_attrs_parse(
	    sn->attrs, host, sizeof(host), &port, pw, sizeof(pw), &iv_s);
	if (rc != 0) {
		if (rc == EINVAL && (l == NULL || l->host[0]))
			slb_log_warn(
			    "node %u: attrs \"%s\": bad esl, esl_password "
			    "or esl_interval; no ESL link",
			    n->id, sn->attrs);
		if (l != NULL) {
			slb_log_info(
			    "node %u: ESL link closed (no esl attribute "
			    "any more)",
			    n->id);
			prb_esl_forget(n);
		}
		return;
	}
	if (l != NULL &&
	    (strcmp(l->host, host) != 0 || l->port != port ||
		strcmp(l->password, pw) != 0)) {
		prb_esl_forget(n);
		l = NULL;
	}
	if (l == NULL) {
		struct timeval sec = { 1, 0 };

		if ((l = calloc(1, sizeof(*l))) == NULL)
			return;
		l->p = p;
		l->node_id = n->id;
		snprintf(l->host, sizeof(l->host), "%s", host);
		l->port = port;
		snprintf(l->password, sizeof(l->password), "%s", pw);
		l->retry_ms = ESL_RETRY_MIN_MS;
		l->t_retry = evtimer_new(p->base, on_retry, l);
		l->t_watch = event_new(p->base, -1, EV_PERSIST, on_watch, l);
		if (l->t_retry == NULL || l->t_watch == NULL ||
		    event_add(l->t_watch, &sec) != 0) {
			esl_free(l);
			return;
		}
		n->esl = l;
		evtimer_add(l->t_retry, &tv); /* dial from the loop */
		slb_log_info("node %u: ESL link to %s:%d", n->id, host, port);
	}
	l->interval_ms = iv_s * 1000u;
	l->want_pause = sn->draining && sn->pause_inbound;
	pause_sync(l);
}

size_t
prb_esl_count(struct prb *p)
{
	struct prb_node *n, *tmp;
	size_t k = 0;

	HASH_ITER(hh, p->nodes, n, tmp)
	if (n->esl != NULL)
		k++;
	return k;
}

int
prb_esl_snapshot(
    struct prb *p, Siplb__V1__HealthSnapshot *hs, struct prb_esl_snap *s)
{
	struct prb_node *n, *tmp;
	size_t k = 0, cnt = prb_esl_count(p);

	memset(s, 0, sizeof(*s));
	if (cnt == 0)
		return 0;
	s->f = calloc(cnt, sizeof(*s->f));
	s->fp = calloc(cnt, sizeof(*s->fp));
	s->esl = calloc(cnt, sizeof(*s->esl));
	if (s->f == NULL || s->fp == NULL || s->esl == NULL) {
		prb_esl_snapshot_free(s);
		return ENOMEM;
	}
	HASH_ITER(hh, p->nodes, n, tmp)
	{
		if (n->esl == NULL || k >= cnt)
			continue;
		prb_esl_fill(n->esl, &s->f[k], s->esl[k], sizeof(s->esl[k]));
		s->fp[k] = &s->f[k];
		k++;
	}
	hs->feedback = s->fp;
	hs->n_feedback = k;
	return 0;
}

void
prb_esl_snapshot_free(struct prb_esl_snap *s)
{
	free(s->f);
	free(s->fp);
	free(s->esl);
	memset(s, 0, sizeof(*s));
}
