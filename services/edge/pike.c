#define SLB_LOG_MODULE "pike"
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uthash.h>

#include "cfg.h"
#include "log.h"
#include "pike.h"

/* How far from the head of a full table a source that is not blocked is
 * looked for before a blocked one is pushed out. */
#define EVICT_LOOK 8

struct edge_pike_src {
	struct edge_pike_addr key;
	uint64_t win_us; /* start of the current window */
	uint32_t cur, prev; /* requests counted in it and the one before */
	uint64_t last_us; /* last message */
	uint64_t block_until_us; /* 0: not blocked */
	uint64_t block_from_us;
	uint64_t block_drops; /* dropped during this block */
	UT_hash_handle hh;
};

struct edge_pike_conns {
	struct edge_pike_addr key;
	int n;
	UT_hash_handle hh;
};

int
edge_pike_reaction_parse(const char *s, enum edge_pike_reaction *r)
{
	if (strcasecmp(s, "drop") == 0)
		*r = PIKE_REACT_DROP;
	else if (strcmp(s, "503") == 0)
		*r = PIKE_REACT_503;
	else if (strcasecmp(s, "block") == 0)
		*r = PIKE_REACT_BLOCK;
	else
		return EINVAL;
	return 0;
}

bool
edge_pike_addr_of(const struct sockaddr_storage *ss, struct edge_pike_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;

		a->fam = AF_INET;
		memcpy(a->a, &in->sin_addr, 4);
		return true;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
			a->fam = AF_INET;
			memcpy(a->a, &in6->sin6_addr.s6_addr[12], 4);
		} else {
			a->fam = AF_INET6;
			memcpy(a->a, &in6->sin6_addr, 16);
		}
		return true;
	}
	return false;
}

static const char *
addr_str(const struct edge_pike_addr *a, char *buf, size_t len)
{
	if (inet_ntop(a->fam == AF_INET ? AF_INET : AF_INET6, a->a, buf,
		(socklen_t)len) == NULL)
		snprintf(buf, len, "?");
	return buf;
}

/* "ADDR" or "ADDR/BITS" */
static int
parse_cidr(const char *s, struct edge_pike_cidr *c)
{
	char host[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t hl = slash ? (size_t)(slash - s) : strlen(s);
	int max;

	memset(c, 0, sizeof(*c));
	if (hl == 0 || hl >= sizeof(host))
		return EINVAL;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (inet_pton(AF_INET, host, c->net.a) == 1) {
		c->net.fam = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, host, c->net.a) == 1) {
		c->net.fam = AF_INET6;
		max = 128;
	} else {
		return EINVAL;
	}
	c->bits = max;
	if (slash) {
		long v;

		if (slb_parse_long(slash + 1, 0, max, &v) != 0)
			return EINVAL;
		c->bits = (int)v;
	}
	/* the network's own bits only */
	for (int i = c->bits; i < 128; i++)
		c->net.a[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
	return 0;
}

static bool
in_cidr(const struct edge_pike_cidr *c, const struct edge_pike_addr *a)
{
	int full = c->bits / 8, rest = c->bits % 8;

	if (c->net.fam != a->fam || memcmp(c->net.a, a->a, (size_t)full) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a->a[full] ^ c->net.a[full]) & (uint8_t)(0xff00u >> rest)) ==
	    0;
}

int
edge_pike_init(struct edge_pike *p, const struct edge_pike_cfg *c,
    const char *allow, char *err, size_t errlen)
{
	char items[EDGE_PIKE_MAX_ALLOW + 1][SLB_CFG_STRLEN];
	int n = 0;

	memset(p, 0, sizeof(*p));
	p->cfg = *c;
	if (p->cfg.max_sources <= 0)
		p->cfg.max_sources = 65536;
	if (p->cfg.window_ms <= 0)
		p->cfg.window_ms = 1000;
	if (allow != NULL && allow[0] != '\0') {
		n = slb_cfg_split(allow, ',', items, EDGE_PIKE_MAX_ALLOW + 1);
		if (n < 0 || n > EDGE_PIKE_MAX_ALLOW) {
			snprintf(err, errlen, "at most %d addresses or CIDRs",
			    EDGE_PIKE_MAX_ALLOW);
			return EINVAL;
		}
	}
	for (int i = 0; i < n; i++) {
		if (parse_cidr(items[i], &p->allow[i]) != 0) {
			snprintf(err, errlen, "\"%s\": give ADDR or ADDR/BITS",
			    items[i]);
			return EINVAL;
		}
	}
	p->nallow = n;
	return 0;
}

void
edge_pike_free(struct edge_pike *p)
{
	struct edge_pike_src *s, *stmp;
	struct edge_pike_conns *c, *ctmp;

	HASH_ITER(hh, p->srcs, s, stmp)
	{
		HASH_DEL(p->srcs, s);
		free(s);
	}
	HASH_ITER(hh, p->conns, c, ctmp)
	{
		HASH_DEL(p->conns, c);
		free(c);
	}
	free(p->nodes);
	p->nodes = NULL;
	p->nnodes = p->nsrcs = p->nblocked = 0;
}

static int
addr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct edge_pike_addr));
}

int
edge_pike_set_nodes(
    struct edge_pike *p, const struct sockaddr_storage *ss, size_t n)
{
	struct edge_pike_addr *v = calloc(n + 1, sizeof(*v));
	size_t k = 0;

	if (v == NULL)
		return ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (edge_pike_addr_of(&ss[i], &v[k]))
			k++;
	qsort(v, k, sizeof(*v), addr_cmp);
	free(p->nodes);
	p->nodes = v;
	p->nnodes = k;
	return 0;
}

static bool
allowed(const struct edge_pike *p, const struct edge_pike_addr *a)
{
	if (p->nnodes &&
	    bsearch(a, p->nodes, p->nnodes, sizeof(*a), addr_cmp) != NULL)
		return true;
	for (int i = 0; i < p->nallow; i++)
		if (in_cidr(&p->allow[i], a))
			return true;
	return false;
}

bool
edge_pike_allowed(const struct edge_pike *p, const struct sockaddr_storage *ss)
{
	struct edge_pike_addr a;

	return !edge_pike_addr_of(ss, &a) || allowed(p, &a);
}

static void
src_del(struct edge_pike *p, struct edge_pike_src *s)
{
	if (s->block_until_us)
		p->nblocked--;
	HASH_DEL(p->srcs, s);
	p->nsrcs--;
	free(s);
}

/* Room for one more: the quietest source that is not blocked goes, or
 * the quietest of all when the head holds blocked ones only. */
static void
evict_one(struct edge_pike *p)
{
	struct edge_pike_src *s = p->srcs, *victim = p->srcs;
	char who[INET6_ADDRSTRLEN];

	for (int i = 0; s != NULL && i < EVICT_LOOK; i++, s = s->hh.next)
		if (s->block_until_us == 0) {
			victim = s;
			break;
		}
	if (victim == NULL)
		return;
	if (victim->block_until_us)
		slb_log_notice("block of %s forgotten early: %d sources "
			       "tracked at most",
		    addr_str(&victim->key, who, sizeof(who)),
		    p->cfg.max_sources);
	p->st.evicted++;
	src_del(p, victim);
}

static struct edge_pike_src *
src_get(struct edge_pike *p, const struct edge_pike_addr *a, uint64_t now_us)
{
	struct edge_pike_src *s;

	HASH_FIND(hh, p->srcs, a, sizeof(*a), s);
	if (s != NULL)
		return s;
	if (p->nsrcs >= (size_t)p->cfg.max_sources)
		evict_one(p);
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->key = *a;
	s->win_us = now_us;
	s->last_us = now_us;
	HASH_ADD(hh, p->srcs, key, sizeof(s->key), s);
	p->nsrcs++;
	return s;
}

static void
block_end(struct edge_pike *p, struct edge_pike_src *s, uint64_t now_us)
{
	char who[INET6_ADDRSTRLEN];

	slb_log_notice("%s unblocked after %.1f s, %llu messages dropped "
		       "meanwhile",
	    addr_str(&s->key, who, sizeof(who)),
	    (double)(now_us - s->block_from_us) / 1e6,
	    (unsigned long long)s->block_drops);
	s->block_until_us = 0;
	s->block_drops = 0;
	s->cur = s->prev = 0;
	s->win_us = now_us;
	p->nblocked--;
	p->st.blocks_ended++;
}

/* The block is over by now: end it (and log it) once. */
static bool
still_blocked(struct edge_pike *p, struct edge_pike_src *s, uint64_t now_us)
{
	if (s->block_until_us == 0)
		return false;
	if (now_us < s->block_until_us)
		return true;
	block_end(p, s, now_us);
	return false;
}

static void
block_start(struct edge_pike *p, struct edge_pike_src *s, uint64_t now_us)
{
	char who[INET6_ADDRSTRLEN];

	s->block_from_us = now_us;
	s->block_until_us = now_us + (uint64_t)p->cfg.block_s * 1000000u;
	if (s->block_until_us == 0)
		s->block_until_us = 1;
	s->block_drops = 1; /* the request that went over */
	p->nblocked++;
	p->st.blocks_started++;
	p->st.blocked_drops++;
	slb_log_notice("blocking %s for %d s: over %d requests in "
		       "%d ms",
	    addr_str(&s->key, who, sizeof(who)), p->cfg.block_s,
	    p->cfg.requests, p->cfg.window_ms);
}

/* Move the window on to now; a source whose window moved on goes to the
 * tail (the head is the quietest). */
static void
roll(struct edge_pike *p, struct edge_pike_src *s, uint64_t now_us)
{
	uint64_t w = (uint64_t)p->cfg.window_ms * 1000u, gone;

	if (now_us < s->win_us)
		s->win_us = now_us; /* a clock that went back */
	gone = now_us - s->win_us;
	if (gone < w)
		return;
	s->prev = gone < 2 * w ? s->cur : 0;
	s->cur = 0;
	s->win_us = now_us - gone % w;
	HASH_DEL(p->srcs, s);
	HASH_ADD(hh, p->srcs, key, sizeof(s->key), s);
}

enum edge_pike_verdict
edge_pike_request(
    struct edge_pike *p, const struct sockaddr_storage *ss, uint64_t now_us)
{
	struct edge_pike_addr a;
	struct edge_pike_src *s;
	uint64_t w, into, est;

	if (p->cfg.requests <= 0 || !edge_pike_addr_of(ss, &a) ||
	    allowed(p, &a))
		return PIKE_PASS;
	if ((s = src_get(p, &a, now_us)) == NULL)
		return PIKE_PASS; /* out of memory: let it through */
	s->last_us = now_us;
	if (still_blocked(p, s, now_us)) {
		s->block_drops++;
		p->st.blocked_drops++;
		return PIKE_BLOCKED;
	}
	roll(p, s, now_us);
	w = (uint64_t)p->cfg.window_ms * 1000u;
	into = now_us - s->win_us;
	est = (uint64_t)s->prev * (w - into) / w + s->cur;
	if (est + 1 <= (uint64_t)p->cfg.requests) {
		s->cur++;
		return PIKE_PASS;
	}
	if (p->cfg.reaction == PIKE_REACT_BLOCK) {
		block_start(p, s, now_us);
		return PIKE_BLOCKED;
	}
	/* drop / 503: a rate limit; what goes over is not counted, so the
	 * source keeps its share */
	p->st.over++;
	return PIKE_OVER;
}

bool
edge_pike_blocked(
    struct edge_pike *p, const struct sockaddr_storage *ss, uint64_t now_us)
{
	struct edge_pike_addr a;
	struct edge_pike_src *s;

	if (p->nblocked == 0 || !edge_pike_addr_of(ss, &a))
		return false;
	HASH_FIND(hh, p->srcs, &a, sizeof(a), s);
	if (s == NULL || !still_blocked(p, s, now_us))
		return false;
	s->last_us = now_us;
	s->block_drops++;
	p->st.blocked_drops++;
	return true;
}

size_t
edge_pike_expire(struct edge_pike *p, uint64_t now_us)
{
	struct edge_pike_src *s, *tmp;
	uint64_t quiet = 2 * (uint64_t)p->cfg.window_ms * 1000u;
	size_t n = 0;

	HASH_ITER(hh, p->srcs, s, tmp)
	{
		if (still_blocked(p, s, now_us))
			continue;
		if (now_us >= s->last_us && now_us - s->last_us >= quiet) {
			src_del(p, s);
			n++;
		}
	}
	return n;
}

bool
edge_pike_conn_open(
    struct edge_pike *p, const struct sockaddr_storage *ss, bool *counted)
{
	struct edge_pike_addr a;
	struct edge_pike_conns *c;

	*counted = false;
	if (p->cfg.conns_per_source <= 0 || !edge_pike_addr_of(ss, &a) ||
	    allowed(p, &a))
		return true;
	HASH_FIND(hh, p->conns, &a, sizeof(a), c);
	if (c != NULL && c->n >= p->cfg.conns_per_source) {
		p->st.conns_refused++;
		return false;
	}
	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return true; /* uncounted rather than refused */
		c->key = a;
		HASH_ADD(hh, p->conns, key, sizeof(c->key), c);
	}
	c->n++;
	*counted = true;
	return true;
}

void
edge_pike_conn_close(struct edge_pike *p, const struct sockaddr_storage *ss)
{
	struct edge_pike_addr a;
	struct edge_pike_conns *c;

	if (!edge_pike_addr_of(ss, &a))
		return;
	HASH_FIND(hh, p->conns, &a, sizeof(a), c);
	if (c != NULL && --c->n <= 0) {
		HASH_DEL(p->conns, c);
		free(c);
	}
}

int
edge_pike_conns_of(
    const struct edge_pike *p, const struct sockaddr_storage *ss)
{
	struct edge_pike_addr a;
	struct edge_pike_conns *c;

	if (!edge_pike_addr_of(ss, &a))
		return 0;
	HASH_FIND(hh, p->conns, &a, sizeof(a), c);
	return c ? c->n : 0;
}
