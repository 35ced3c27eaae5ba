/*
 * siplbctl doctor's SIP call (what the answer means is doctor.c's
 * business).  An INVITE from the edge's address straight to the node
 * over UDP, X-AUTH-IP 192.0.2.77, from a caller nobody knows
 * (sip:siplb-doctor@192.0.2.77) to user siplb-doctor, which no dialplan
 * should route anywhere, with an inactive PCMU offer.  Then the clean-up:
 * CANCEL after a provisional (or after a lone 100 at the timeout), ACK of
 * a non-2xx final on the INVITE's branch (RFC 3261 §17.1.1.3), ACK and
 * BYE after a 2xx, each retransmission of a final ACKed again; INVITE,
 * CANCEL and BYE are retransmitted on T1 (Timers A and E).
 *
 * Each node gets a fresh socket bound to the edge's address with an
 * ephemeral port and connected to the node, so nothing from elsewhere
 * reaches us and a closed port shows as ECONNREFUSED.  Replies are read
 * into a bounded buffer and indexed by slb_sip_scan; what does not match
 * our branch, Call-ID and CSeq is ignored, and what we copy back into an
 * ACK or BYE (To, Contact, Record-Route) is bounded, never cut, and
 * stripped of control characters.
 */
#define SLB_LOG_MODULE "ctl"
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "doctor_sip.h"
#include "sipaddr.h"
#include "sipmsg.h"

#define DOC_USER "siplb-doctor"
#define DOC_T1_MS 500 /* RFC 3261 T1, T2 */
#define DOC_T2_MS 4000
#define DOC_REQ_MAX 4096
#define DOC_HDR_MAX 512
#define DOC_ROUTE_MAX 1024
#define DOC_RR_MAX 8

/* Headers every request of the call has: Via (sent-by, branch), From. */
#define HDR_VIA "Via: SIP/2.0/UDP %s;branch=%s;rport\r\nMax-Forwards: 70\r\n"
#define HDR_FROM \
	"From: \"siplb doctor\" <sip:" DOC_USER "@" DOC_AUTH_IP ">;tag=%s\r\n"

/* One request we may send again until it is answered. */
struct doc_tx {
	char buf[DOC_REQ_MAX];
	int len;
	bool sent, active; /* active: retransmit at next_ms */
	bool invite; /* Timer A doubles without bound (§17.1.1.2) */
	uint64_t next_ms;
	uint32_t iv_ms;
};

enum doc_what { R_INVITE, R_CANCEL, R_BYE };

/* What one reply says, as far as the clean-up needs it. */
struct doc_reply {
	int code;
	char reason[64]; /* printable ASCII only */
	enum doc_what what;
	char to[DOC_HDR_MAX];
	char target[DOC_HDR_MAX]; /* Contact's URI; "" = none usable */
	char route[DOC_ROUTE_MAX]; /* "Route: ...\r\n" or "" */
};

struct doc_call {
	int fd, timeout_ms;
	char ruri[SLB_SIP_HOST_MAX + 32];
	char local[INET6_ADDRSTRLEN + 16]; /* Via sent-by */
	char local_ip[INET6_ADDRSTRLEN];
	bool v6;
	char branch[48], ack_branch[48], bye_branch[48];
	char callid[48], ftag[24];
	struct doc_tx inv, cancel, bye;
	uint64_t deadline_ms;
	/* what happened */
	int code; /* the answer that tells; 0 = none */
	char reason[64];
	bool got_100, final, answered, bye_done;
	int err; /* a transport error (errno) */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* n random hex digits and a NUL into out (n + 1 bytes). */
static void
rand_hex(char *out, size_t n)
{
	static uint64_t x;
	uint8_t b[32];
	size_t k = (n + 1) / 2;

	if (k > sizeof(b))
		k = sizeof(b), n = 2 * k;
	if (getrandom(b, k, 0) != (ssize_t)k) {
		/* no entropy source: still distinct per call and process */
		if (x == 0)
			x = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^
			    now_ms();
		for (size_t i = 0; i < k; i++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			b[i] = (uint8_t)x;
		}
	}
	for (size_t i = 0; i < n; i++)
		out[i] =
		    "0123456789abcdef"[(b[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	out[n] = '\0';
}

/* Copy a header value we send back (To, Contact, Route) into dst, folded
 * lines and tabs made spaces, other control bytes '?'.  E2BIG when it
 * does not fit: a cut header would make a wrong request. */
static int
copy_hdr(char *dst, size_t dlen, const char *s, size_t n)
{
	if (n >= dlen)
		return E2BIG;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		dst[i] = ch == '\r' || ch == '\n' || ch == '\t' ? ' '
		    : ch < 0x20 || ch == 0x7f                   ? '?'
								: (char)ch;
	}
	dst[n] = '\0';
	return 0;
}

/* A reason phrase for a terminal: printable ASCII, cut to fit. */
static void
copy_reason(char *dst, size_t dlen, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i + 1 < dlen; i++)
		dst[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	dst[i] = '\0';
}

static int __attribute__((format(printf, 3, 4)))
tx_build(struct doc_tx *tx, bool invite, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tx->buf, sizeof(tx->buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tx->buf))
		return ENOSPC;
	tx->len = n;
	tx->invite = invite;
	tx->iv_ms = DOC_T1_MS;
	return 0;
}

/* Send tx (again) and set its next retransmission. */
static void
tx_send(struct doc_call *c, struct doc_tx *tx, uint64_t now)
{
	if (send(c->fd, tx->buf, (size_t)tx->len, 0) != tx->len && c->err == 0)
		c->err = errno ? errno : EIO;
	if (!tx->sent)
		tx->active = true;
	tx->sent = true;
	tx->next_ms = now + tx->iv_ms;
	tx->iv_ms = tx->invite
	    ? tx->iv_ms * 2
	    : (tx->iv_ms * 2 > DOC_T2_MS ? DOC_T2_MS : tx->iv_ms * 2);
}

/* Retransmit tx when due; lower *wake to its next time. */
static void
tx_due(struct doc_call *c, struct doc_tx *tx, uint64_t now, uint64_t *wake)
{
	if (!tx->active)
		return;
	if (tx->next_ms <= now)
		tx_send(c, tx, now);
	if (tx->next_ms < *wake)
		*wake = tx->next_ms;
}

static int
build_invite(struct doc_call *c)
{
	const char *ipv = c->v6 ? "IP6" : "IP4";
	char sdp[512];
	int n;

	/* a=inactive: should a node answer, no media flows either way */
	n = snprintf(sdp, sizeof(sdp),
	    "v=0\r\no=siplb-doctor 1 1 IN %s %s\r\ns=siplb doctor\r\n"
	    "c=IN %s %s\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n"
	    "a=rtpmap:0 PCMU/8000\r\na=inactive\r\n",
	    ipv, c->local_ip, ipv, c->local_ip);
	if (n < 0 || (size_t)n >= sizeof(sdp))
		return ENOSPC;
	return tx_build(&c->inv, true,
	    "INVITE %s SIP/2.0\r\n" HDR_VIA HDR_FROM
	    "To: <%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
	    "Contact: <sip:" DOC_USER "@%s>\r\n"
	    "X-AUTH-IP: " DOC_AUTH_IP "\r\n"
	    "Subject: siplb doctor: an ACL check, not a call\r\n"
	    "User-Agent: siplbctl doctor\r\n"
	    "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
	    c->ruri, c->local, c->branch, c->ftag, c->ruri, c->callid,
	    c->local, n, sdp);
}

/* RFC 3261 §9.1: the CANCEL copies the INVITE's Request-URI, Via
 * (branch too), From, To, Call-ID and CSeq number. */
static void
send_cancel(struct doc_call *c, uint64_t now)
{
	if (tx_build(&c->cancel, false,
		"CANCEL %s SIP/2.0\r\n" HDR_VIA HDR_FROM
		"To: <%s>\r\nCall-ID: %s\r\nCSeq: 1 CANCEL\r\n"
		"Content-Length: 0\r\n\r\n",
		c->ruri, c->local, c->branch, c->ftag, c->ruri,
		c->callid) != 0)
		return;
	tx_send(c, &c->cancel, now);
	c->deadline_ms = now + (uint64_t)c->timeout_ms;
}

/* The ACK of a final answer (each retransmission of it too).  A non-2xx
 * is ACKed in its transaction: the INVITE's Request-URI and branch, the
 * answer's To (RFC 3261 §17.1.1.3).  A 2xx is ACKed in the dialog it
 * made: to its Contact, along its Record-Route, a branch of its own
 * (§13.2.2.4). */
static void
send_ack(struct doc_call *c, const struct doc_reply *r, bool ok)
{
	struct doc_tx ack;

	if (tx_build(&ack, false,
		"ACK %s SIP/2.0\r\n" HDR_VIA HDR_FROM
		"To: %s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\n%s"
		"Content-Length: 0\r\n\r\n",
		ok && r->target[0] ? r->target : c->ruri, c->local,
		ok ? c->ack_branch : c->branch, c->ftag, r->to, c->callid,
		ok ? r->route : "") == 0)
		(void)send(c->fd, ack.buf, (size_t)ack.len, 0);
}

static void
send_bye(struct doc_call *c, const struct doc_reply *r, uint64_t now)
{
	if (tx_build(&c->bye, false,
		"BYE %s SIP/2.0\r\n" HDR_VIA HDR_FROM
		"To: %s\r\nCall-ID: %s\r\nCSeq: 2 BYE\r\n%s"
		"User-Agent: siplbctl doctor\r\nContent-Length: 0\r\n\r\n",
		r->target[0] ? r->target : c->ruri, c->local, c->bye_branch,
		c->ftag, r->to, c->callid, r->route) != 0)
		return;
	tx_send(c, &c->bye, now);
	c->deadline_ms = now + (uint64_t)c->timeout_ms;
}

/* The URI of the Contact's first element, if it is a plain sip: URI. */
static void
reply_target(const char *v, size_t n, struct doc_reply *r)
{
	const char *s, *e;

	n = slb_sip_first_elem(v, n);
	if ((s = memchr(v, '<', n)) != NULL) {
		s++;
		e = memchr(s, '>', (size_t)(v + n - s));
	} else {
		s = v;
		e = memchr(s, ';', n);
	}
	if (e == NULL)
		e = v + n;
	if (e - s < 5 || strncasecmp(s, "sip:", 4) != 0)
		return;
	for (const char *p = s; p < e; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '<' || *p == '>')
			return;
	(void)copy_hdr(r->target, sizeof(r->target), s, (size_t)(e - s));
}

/* The route set of a 2xx: its Record-Route elements in reverse order
 * (RFC 3261 §12.1.2), as one Route line.  More than DOC_RR_MAX elements
 * or DOC_ROUTE_MAX bytes: none (the node is sent to directly anyway). */
static void
reply_route(const char *buf, const struct slb_sipscan *sc, struct doc_reply *r)
{
	const char *el[DOC_RR_MAX];
	size_t len[DOC_RR_MAX], at;
	int k = 0;

	for (int i = 0; i < sc->nhdrs; i++) {
		const char *v = buf + sc->h[i].voff;
		size_t left = sc->h[i].vlen;

		if (sc->h[i].type != SLB_H_RECORD_ROUTE)
			continue;
		while (left > 0) {
			size_t n = slb_sip_first_elem(v, left);

			while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n > 0) {
				if (k == DOC_RR_MAX)
					return;
				el[k] = v, len[k++] = n;
			}
			n = n > 0 ? n : 1;
			for (; n < left &&
			     (v[n] == ',' || v[n] == ' ' || v[n] == '\t' ||
				 v[n] == '\r' || v[n] == '\n');
			     n++)
				;
			v += n, left -= n < left ? n : left;
		}
	}
	if (k == 0)
		return;
	at = (size_t)snprintf(r->route, sizeof(r->route), "Route: ");
	for (int i = k - 1; i >= 0; i--) {
		if (at + len[i] + 4 >= sizeof(r->route) ||
		    copy_hdr(r->route + at, sizeof(r->route) - at, el[i],
			len[i]) != 0) {
			r->route[0] = '\0';
			return;
		}
		at += len[i];
		at += (size_t)snprintf(r->route + at, sizeof(r->route) - at,
		    i > 0 ? ", " : "\r\n");
	}
}

/* "1 INVITE": the number and the method. */
static int
cseq_parse(
    const char *v, size_t n, unsigned long *num, const char **m, size_t *mlen)
{
	size_t i = 0;

	*num = 0;
	while (i < n && i < 10 && v[i] >= '0' && v[i] <= '9')
		*num = *num * 10 + (unsigned long)(v[i++] - '0');
	if (i == 0 || i == n || (v[i] != ' ' && v[i] != '\t'))
		return EBADMSG;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	*m = v + i;
	*mlen = n - i;
	return *mlen > 0 ? 0 : EBADMSG;
}

static bool
same(const char *s, size_t n, const char *ours)
{
	return n == strlen(ours) && memcmp(s, ours, n) == 0;
}

/* Which of our requests buf answers, or EBADMSG: not ours, or not a
 * response we could act on (then it is ignored). */
static int
reply_parse(
    const struct doc_call *c, const char *buf, size_t len, struct doc_reply *r)
{
	struct slb_sipscan sc;
	const struct slb_sip_hdr *via, *cid, *cseq, *to, *ct;
	const char *br, *m;
	size_t brlen, mlen, eol;
	unsigned long num;

	memset(r, 0, sizeof(*r));
	if (len < 13 || memcmp(buf, "SIP/2.0 ", 8) != 0 || buf[8] < '1' ||
	    buf[8] > '6' || buf[9] < '0' || buf[9] > '9' || buf[10] < '0' ||
	    buf[10] > '9' || (buf[11] != ' ' && buf[11] != '\r'))
		return EBADMSG;
	r->code = (buf[8] - '0') * 100 + (buf[9] - '0') * 10 + buf[10] - '0';
	if (slb_sip_scan(buf, len, &sc) != 0 ||
	    (via = slb_sip_find(&sc, SLB_H_VIA)) == NULL ||
	    (cid = slb_sip_find(&sc, SLB_H_CALL_ID)) == NULL ||
	    (cseq = slb_sip_find(&sc, SLB_H_CSEQ)) == NULL ||
	    (to = slb_sip_find(&sc, SLB_H_TO)) == NULL)
		return EBADMSG;
	eol = sc.line_len;
	while (eol > 12 && (buf[eol - 1] == '\n' || buf[eol - 1] == '\r'))
		eol--;
	if (eol > 12)
		copy_reason(r->reason, sizeof(r->reason), buf + 12, eol - 12);
	if (slb_sip_param(buf + via->voff,
		slb_sip_first_elem(buf + via->voff, via->vlen), "branch", &br,
		&brlen) != 0 ||
	    !same(buf + cid->voff, cid->vlen, c->callid) ||
	    cseq_parse(buf + cseq->voff, cseq->vlen, &num, &m, &mlen) != 0)
		return EBADMSG;
	if (same(br, brlen, c->branch) && num == 1 && same(m, mlen, "INVITE"))
		r->what = R_INVITE;
	else if (same(br, brlen, c->branch) && num == 1 &&
	    same(m, mlen, "CANCEL"))
		r->what = R_CANCEL;
	else if (same(br, brlen, c->bye_branch) && num == 2 &&
	    same(m, mlen, "BYE"))
		r->what = R_BYE;
	else
		return EBADMSG;
	if (copy_hdr(r->to, sizeof(r->to), buf + to->voff, to->vlen) != 0)
		return EBADMSG;
	if (r->what == R_INVITE && r->code >= 200 && r->code < 300) {
		if ((ct = slb_sip_find(&sc, SLB_H_CONTACT)) != NULL)
			reply_target(buf + ct->voff, ct->vlen, r);
		reply_route(buf, &sc, r);
	}
	return 0;
}

/* Wait up to wait_ms for a reply to us: 0, EAGAIN (none yet), or the
 * socket's error (ECONNREFUSED: the node's port is closed). */
static int
reply_wait(struct doc_call *c, int wait_ms, struct doc_reply *r)
{
	static char buf[65536]; /* any UDP datagram fits */
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	ssize_t n;
	int pr;

	pr = poll(&pfd, 1, wait_ms);
	if (pr < 0)
		return errno == EINTR ? EAGAIN : errno;
	if (pr == 0)
		return EAGAIN;
	n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? EAGAIN : errno;
	return reply_parse(c, buf, (size_t)n, r) == 0 ? 0 : EAGAIN;
}

static void
on_reply(struct doc_call *c, const struct doc_reply *r, uint64_t now)
{
	if (r->what == R_CANCEL) {
		if (r->code >= 200)
			c->cancel.active = false;
		return;
	}
	if (r->what == R_BYE) {
		if (r->code >= 200)
			c->bye.active = false, c->bye_done = true;
		return;
	}
	c->inv.active = false; /* any answer stops Timer A */
	if (r->code == 100) {
		c->got_100 = true;
		return;
	}
	/* a 487 answers our CANCEL, it says nothing of the node */
	if (c->code == 0 && !(r->code == 487 && c->cancel.sent)) {
		c->code = r->code;
		snprintf(c->reason, sizeof(c->reason), "%s", r->reason);
	}
	if (r->code < 200) {
		if (!c->cancel.sent)
			send_cancel(c, now);
		return;
	}
	c->cancel.active = false;
	if (r->code >= 300) {
		c->final = true;
		send_ack(c, r, false);
		return;
	}
	/* 2xx, or its retransmission: ACK it and hang up */
	c->answered = true;
	send_ack(c, r, true);
	if (!c->bye.sent)
		send_bye(c, r, now);
}

/* The INVITE and its clean-up, until done or out of time. */
static void
call_run(struct doc_call *c)
{
	struct doc_reply r;
	uint64_t now = now_ms(), wake;
	int rc;

	c->deadline_ms = now + (uint64_t)c->timeout_ms;
	tx_send(c, &c->inv, now);
	while (c->err == 0 && !c->final && !c->bye_done) {
		now = now_ms();
		if (now >= c->deadline_ms) {
			/* a lone 100: the INVITE may sit in a dialplan */
			if (c->got_100 && c->code == 0 && !c->cancel.sent) {
				send_cancel(c, now);
				continue;
			}
			break;
		}
		wake = c->deadline_ms;
		tx_due(c, &c->inv, now, &wake);
		tx_due(c, &c->cancel, now, &wake);
		tx_due(c, &c->bye, now, &wake);
		rc = reply_wait(c, (int)(wake > now ? wake - now : 0), &r);
		if (rc == 0)
			on_reply(c, &r, now_ms());
		else if (rc != EAGAIN)
			c->err = rc;
	}
}

/* Where the node is, over UDP, in the family of from. */
static int
node_addr(const char *uri, int family, char *hostport, size_t hlen,
    struct sockaddr_storage *dst, socklen_t *dlen, const char **why)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	struct slb_sip_addr a;
	char port[8];
	int rc;

	*why = "error: cannot read host and port of the URI";
	if (slb_sip_addr_parse(uri, strlen(uri), &a) != 0 ||
	    slb_sip_addr_format(&a, hostport, hlen, false) != 0)
		return EINVAL;
	*why = "not checked: doctor speaks UDP, the URI asks for another "
	       "transport";
	if (a.sips || (a.transport[0] && strcmp(a.transport, "udp") != 0))
		return EPROTONOSUPPORT;
	snprintf(port, sizeof(port), "%d", slb_sip_addr_port(&a));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST;
	rc = getaddrinfo(a.host, port, &hints, &ai);
	if (rc == EAI_NONAME) {
		hints.ai_flags = 0; /* a host name: look it up */
		rc = getaddrinfo(a.host, port, &hints, &ai);
	}
	*why = "error: cannot resolve its host in the family of the --from "
	       "address";
	if (rc != 0 || ai == NULL)
		return EHOSTUNREACH;
	memcpy(dst, ai->ai_addr, ai->ai_addrlen);
	*dlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

/* A socket bound to from (ephemeral port) and connected to the node;
 * the call's identifiers and its INVITE. */
static int
call_open(struct doc_call *c, const struct sockaddr_storage *from,
    socklen_t flen, const char *uri, char *why, size_t wlen)
{
	const char *what;
	struct sockaddr_storage dst, me;
	socklen_t dlen, mlen = sizeof(me);
	char hostport[SLB_SIP_HOST_MAX + 8];
	int rc, port;

	if ((rc = node_addr(uri, from->ss_family, hostport, sizeof(hostport),
		 &dst, &dlen, &what)) != 0) {
		snprintf(why, wlen, "%s", what);
		return rc;
	}
	if ((c->fd = socket(from->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) <
		0 ||
	    bind(c->fd, (const struct sockaddr *)from, flen) != 0) {
		rc = errno;
		snprintf(why, wlen,
		    "error: cannot bind a UDP socket to the "
		    "--from address: %s%s",
		    strerror(rc),
		    rc == EADDRNOTAVAIL
			? " (run doctor on the host that holds "
			  "it, or give --from)"
			: "");
		return rc;
	}
	if (connect(c->fd, (struct sockaddr *)&dst, dlen) != 0 ||
	    getsockname(c->fd, (struct sockaddr *)&me, &mlen) != 0) {
		rc = errno;
		snprintf(why, wlen,
		    "error: cannot reach it from the --from "
		    "address: %s",
		    strerror(rc));
		return rc;
	}
	c->v6 = me.ss_family == AF_INET6;
	if (c->v6) {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&me)->sin6_addr,
		    c->local_ip, sizeof(c->local_ip));
		port = ntohs(((struct sockaddr_in6 *)&me)->sin6_port);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&me)->sin_addr,
		    c->local_ip, sizeof(c->local_ip));
		port = ntohs(((struct sockaddr_in *)&me)->sin_port);
	}
	snprintf(c->local, sizeof(c->local), c->v6 ? "[%s]:%d" : "%s:%d",
	    c->local_ip, port);
	snprintf(c->ruri, sizeof(c->ruri), "sip:" DOC_USER "@%s", hostport);
	memcpy(c->branch, "z9hG4bKdoc", 10);
	rand_hex(c->branch + 10, 16);
	memcpy(c->ack_branch, "z9hG4bKdoc", 10);
	rand_hex(c->ack_branch + 10, 16);
	memcpy(c->bye_branch, "z9hG4bKdoc", 10);
	rand_hex(c->bye_branch + 10, 16);
	rand_hex(c->callid, 24);
	strcat(c->callid, "@siplb-doctor");
	rand_hex(c->ftag, 12);
	snprintf(why, wlen, "error: the INVITE does not fit");
	return build_invite(c);
}

int
doc_sip_check(const char *uri, const struct sockaddr_storage *from,
    socklen_t flen, int timeout_ms, struct doc_outcome *o, char *why,
    size_t wlen)
{
	struct doc_call *c = calloc(1, sizeof(*c));
	int rc;

	memset(o, 0, sizeof(*o));
	if (c == NULL) {
		snprintf(why, wlen, "error: out of memory");
		return ENOMEM;
	}
	c->fd = -1;
	c->timeout_ms = timeout_ms;
	if ((rc = call_open(c, from, flen, uri, why, wlen)) == 0) {
		call_run(c);
		o->code = c->code;
		snprintf(o->reason, sizeof(o->reason), "%s", c->reason);
		o->got_100 = c->got_100;
		o->bye_unanswered = c->bye.sent && !c->bye_done;
		o->cancel_unanswered =
		    c->cancel.sent && !c->final && !c->answered;
		o->err = c->err;
		snprintf(o->local_ip, sizeof(o->local_ip), "%s", c->local_ip);
	}
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	return rc;
}

int
doc_sip_fuzz_feed(struct doc_fuzz_state *st, const char *buf, size_t len)
{
	struct doc_call *c = st->call;
	struct doc_reply r;

	if (c == NULL) {
		if ((c = st->call = calloc(1, sizeof(*c))) == NULL)
			return 0;
		c->fd = -1; /* every send fails: EBADF, nothing leaves */
		c->timeout_ms = 1000;
		snprintf(c->local, sizeof(c->local), "192.0.2.1:5060");
		snprintf(c->local_ip, sizeof(c->local_ip), "192.0.2.1");
		snprintf(
		    c->ruri, sizeof(c->ruri), "sip:" DOC_USER "@192.0.2.2");
		snprintf(c->branch, sizeof(c->branch), "z9hG4bKdocfuzz1");
		snprintf(
		    c->ack_branch, sizeof(c->ack_branch), "z9hG4bKdocfuzz3");
		snprintf(
		    c->bye_branch, sizeof(c->bye_branch), "z9hG4bKdocfuzz2");
		snprintf(c->callid, sizeof(c->callid), "fuzz@siplb-doctor");
		snprintf(c->ftag, sizeof(c->ftag), "fuzztag");
		if (build_invite(c) != 0)
			abort();
	}
	c->err = 0;
	if (reply_parse(c, buf, len, &r) != 0)
		return 0;
	on_reply(c, &r, now_ms());
	return r.code;
}

void
doc_sip_fuzz_end(struct doc_fuzz_state *st)
{
	free(st->call);
	st->call = NULL;
}
