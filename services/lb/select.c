#define SLB_LOG_MODULE "select"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "lb.h"
#include "log.h"

/*
 * Selection runs for every new call (~50,000/s), so it allocates nothing:
 * each algorithm gives every usable node a sort key in one pass over the
 * table and a bounded insertion keeps the best max_results (<= 32) on the
 * stack.  Round-robin is the one exception: it has state and needs its own
 * pass.
 */

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	enum lb_alg alg;
	const char *name;
} alg_names[] = {
	{ LB_ALG_HASH_CALLID, "hash-callid" },
	{ LB_ALG_HASH_FROM, "hash-from" },
	{ LB_ALG_HASH_TO, "hash-to" },
	{ LB_ALG_HASH_RURI, "hash-ruri" },
	{ LB_ALG_RR, "round-robin" },
	{ LB_ALG_HASH_AUTH, "hash-auth" },
	{ LB_ALG_RANDOM, "random" },
	{ LB_ALG_HASH_HEADER, "hash-header" },
	{ LB_ALG_PRIORITY, "priority" },
	{ LB_ALG_WEIGHTED_RANDOM, "weighted-random" },
	{ LB_ALG_RELATIVE_WEIGHT, "relative-weight" },
	{ LB_ALG_LATENCY, "latency" },
	{ LB_ALG_LEAST_LOAD, "least-load" },
};

int
lb_alg_parse(const char *s, enum lb_alg *out)
{
	size_t i;

	if (s == NULL)
		return EINVAL;
	/* Only the OpenSIPS numbers 0..8: its 9 and 10 mean other things, and
	 * Kamailio's numbers differ again (REFERENCE §9.1). */
	if (s[0] >= '0' && s[0] <= '8' && s[1] == '\0') {
		*out = (enum lb_alg)(s[0] - '0');
		return 0;
	}
	for (i = 0; i < ARRAY_LEN(alg_names); i++) {
		if (strcmp(s, alg_names[i].name) == 0) {
			*out = alg_names[i].alg;
			return 0;
		}
	}
	return EINVAL;
}

const char *
lb_alg_name(enum lb_alg a)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(alg_names); i++)
		if (alg_names[i].alg == a)
			return alg_names[i].name;
	return "unknown";
}

static bool
alg_known(enum lb_alg a)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(alg_names); i++)
		if (alg_names[i].alg == a)
			return true;
	return false;
}

/* ------------------------------------------------------ availability */

static const struct lb_res *
res_find(const struct lb_node *n, const char *name)
{
	int i;

	for (i = 0; i < n->nres && i < LB_MAX_RES; i++)
		if (strncmp(n->res[i].name, name, LB_RES_NAME) == 0)
			return &n->res[i];
	return NULL;
}

static int64_t
res_avail(const struct lb_node *n, const struct lb_res *r, bool relative)
{
	/* int64: cap and load are int32, and 100 * load must not wrap */
	int64_t cap = r->cap, load = (int64_t)r->load + n->fb_extra;

	/* what the node reports (feedback.c): fb_cap < 0 is a cap of 0 */
	if (n->fb_cap != 0 && (n->fb_cap < 0 ? 0 : n->fb_cap) < cap)
		cap = n->fb_cap < 0 ? 0 : n->fb_cap;
	if (load < 0)
		load = 0;

	if (!relative)
		return cap - load;
	if (cap <= 0)
		return 0;
	/* Integer percent as OpenSIPS flag r computes it: 499 of 500 is
	 * still 1 % free, and only 500 of 500 is full (REFERENCE §9.4). */
	return 100 - (100 * load) / cap;
}

/* No requested resources means no limit: INT64_MAX. */
bool
lb_node_avail(const struct lb_node *n, const char (*res)[LB_RES_NAME],
    int nres, bool relative, int64_t *availp)
{
	int64_t avail = INT64_MAX;
	int i;

	if (nres < 0 || nres > LB_MAX_RES)
		return false;
	for (i = 0; i < nres; i++) {
		const struct lb_res *r = res_find(n, res[i]);
		int64_t a;

		if (r == NULL)
			return false;
		/* a node is only as free as its scarcest resource */
		a = res_avail(n, r, relative);
		if (a < avail)
			avail = a;
	}
	if (availp != NULL)
		*availp = avail;
	return true;
}

enum fit {
	FIT_NONE, /* outside the pool, disabled, down or excluded */
	FIT_MISSING, /* lacks a requested resource */
	FIT_FULL, /* offers them all, but one is exhausted */
	FIT_OK,
};

static enum fit
node_fit(const struct lb_node *n, const struct lb_select *req, int64_t *availp)
{
	/* The load balancer groups and the dispatcher sets are separate
	 * tables in OpenSIPS; a node may sit in one, the other or both. */
	uint32_t pool = req->alg == LB_ALG_LEAST_LOAD ? n->group : n->set;
	int64_t avail;
	size_t i;

	/* 0 is "none" in both columns, never a pool of its own */
	if (pool != req->group || pool == 0 || !n->enabled ||
	    (!n->up && !req->down_ok) || n->held || n->draining)
		return FIT_NONE;
	for (i = 0; i < req->nexclude; i++)
		if (req->exclude[i] == n->id)
			return FIT_NONE;
	if (!lb_node_avail(n, req->res, req->nres, req->relative, &avail))
		return FIT_MISSING;
	if (req->nres > 0 && avail <= 0 && !req->overcommit)
		return FIT_FULL;
	*availp = avail;
	return FIT_OK;
}

/* ------------------------------------------------------- best-k keep */

/* Higher is better, compared a, then d, then b; equal keys go to the
 * lowest id so that deterministic algorithms stay deterministic. */
struct cand {
	struct lb_node *n;
	int64_t a;
	double d;
	uint64_t b;
};

struct best {
	struct cand c[LB_MAX_RESULTS];
	unsigned k, m;
};

static bool
cand_better(const struct cand *x, const struct cand *y)
{
	if (x->a != y->a)
		return x->a > y->a;
	if (x->d != y->d)
		return x->d > y->d;
	if (x->b != y->b)
		return x->b > y->b;
	return x->n->id < y->n->id;
}

/* Insertion into a sorted array of at most k: O(n) for the usual k = 1,
 * and a rejected candidate costs one comparison. */
static void
best_offer(struct best *bp, const struct cand *c)
{
	unsigned i;

	if (bp->m == bp->k) {
		if (!cand_better(c, &bp->c[bp->m - 1]))
			return;
		i = bp->m - 1;
	} else {
		i = bp->m++;
	}
	while (i > 0 && cand_better(c, &bp->c[i - 1])) {
		bp->c[i] = bp->c[i - 1];
		i--;
	}
	bp->c[i] = *c;
}

/* ------------------------------------------------------------ hashing */

static uint64_t
fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

/* splitmix64 finaliser: FNV alone avalanches poorly in its high bits */
static uint64_t
mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* Uniform in the open interval (0, 1): log() below must never see 0 or 1. */
static double
unit_open(uint64_t x)
{
	return ((double)(x >> 11) + 0.5) * 0x1.0p-53;
}

/* ------------------------------------------------------- round-robin */

/*
 * Smooth weighted round-robin (nginx): every usable node gains its weight,
 * the richest is picked and pays the total back.  Over any run of
 * sum(weight) picks on a stable set each node gets exactly its weight,
 * interleaved rather than in bursts (OpenSIPS alg 4 sends `weight` calls
 * in a row to one node).
 */
static enum lb_sel_status
select_rr(struct lb_table *t, const struct lb_select *req, unsigned k,
    struct lb_node **out, unsigned *nout)
{
	struct lb_node *pick = NULL;
	size_t i, at, offered = 0;
	int64_t total = 0, avail;
	unsigned m;

	for (i = 0; i < t->n; i++) {
		struct lb_node *n = &t->nodes[i];

		switch (node_fit(n, req, &avail)) {
		case FIT_OK: break;
		case FIT_FULL: offered++; continue;
		default: continue;
		}
		n->wrr_current += n->weight;
		total += n->weight;
		/* strict: equal credit goes to the lowest id */
		if (pick == NULL || n->wrr_current > pick->wrr_current)
			pick = n;
	}
	if (pick == NULL)
		return offered ? LB_SEL_NO_CAPACITY : LB_SEL_NO_DESTINATION;
	pick->wrr_current -= total;

	/* Failover order: the usable nodes after the pick, wrapping, which is
	 * where the rotation would have gone next. */
	out[0] = pick;
	m = 1;
	at = (size_t)(pick - t->nodes);
	for (i = 1; i < t->n && m < k; i++) {
		struct lb_node *n = &t->nodes[(at + i) % t->n];

		if (node_fit(n, req, &avail) == FIT_OK)
			out[m++] = n;
	}
	*nout = m;
	return LB_SEL_OK;
}

/* ------------------------------------------------------------- select */

static bool
uses_rr(const struct lb_select *req)
{
	/* alg 5 without an auth user falls back to round-robin, as in
	 * OpenSIPS and Kamailio */
	return req->alg == LB_ALG_RR ||
	    (req->alg == LB_ALG_HASH_AUTH &&
		(req->hash_key == NULL || req->hash_key[0] == '\0'));
}

static bool
uses_hash(enum lb_alg a)
{
	switch (a) {
	case LB_ALG_HASH_CALLID:
	case LB_ALG_HASH_FROM:
	case LB_ALG_HASH_TO:
	case LB_ALG_HASH_RURI:
	case LB_ALG_HASH_AUTH:
	case LB_ALG_HASH_HEADER: return true;
	default: return false;
	}
}

/* Weighted sampling without replacement (Efraimidis-Spirakis): the key
 * ln(u)/w is largest for a node with probability w / sum(w), and ordering
 * by it gives the failover list the same law over the rest. */
static double
weighted_key(struct lb_table *t, uint32_t w)
{
	if (w == 0)
		return -INFINITY;
	return log(unit_open(lb_rand(t))) / (double)w;
}

static void
cand_key(struct lb_table *t, const struct lb_select *req, uint64_t hkey,
    struct cand *c, int64_t avail)
{
	struct lb_node *n = c->n;

	switch (req->alg) {
	case LB_ALG_LEAST_LOAD:
		/* Ties at random by default: first-in-table piles short failed
		 * calls onto one node (OpenSIPS PR #610, REFERENCE §9.5). */
		c->a = avail;
		c->b = req->tie_first ? 0 : lb_rand(t);
		break;
	case LB_ALG_LATENCY:
		/* unknown rtt loses to any measured one */
		c->a = n->rtt_us ? -(int64_t)n->rtt_us : INT64_MIN;
		c->b = req->tie_first ? 0 : lb_rand(t);
		break;
	case LB_ALG_PRIORITY: c->a = n->priority; break;
	case LB_ALG_RANDOM: c->b = lb_rand(t); break;
	case LB_ALG_WEIGHTED_RANDOM:
		c->d = weighted_key(t, n->weight);
		c->b = lb_rand(t);
		break;
	case LB_ALG_RELATIVE_WEIGHT:
		/* Kamailio alg 11: the share is rweight over the usable nodes'
		 * sum, so a node leaving spreads its share proportionally. */
		c->d = weighted_key(t, n->rweight);
		c->b = lb_rand(t);
		break;
	default:
		/* Weighted rendezvous hashing: each (key, node) pair scores
		 * on its own, so removing a node moves only its own keys, and
		 * -w/ln(u) wins with probability w / sum(w). */
		c->d = -(double)n->weight /
		    log(unit_open(mix64(hkey ^ mix64(n->id))));
		break;
	}
}

static enum lb_sel_status
check_request(const struct lb_select *req, unsigned *kp)
{
	unsigned k = req->max_results ? req->max_results : 1;

	if (!alg_known(req->alg)) {
		slb_log_debug("unknown algorithm %d", (int)req->alg);
		return LB_SEL_BAD_REQUEST;
	}
	if (k > LB_MAX_RESULTS) {
		slb_log_debug("max_results %u above %d", k, LB_MAX_RESULTS);
		return LB_SEL_BAD_REQUEST;
	}
	if (req->nres < 0 || req->nres > LB_MAX_RES) {
		slb_log_debug("%d resources requested", req->nres);
		return LB_SEL_BAD_REQUEST;
	}
	/* lb_start needs resources: availability is defined by them */
	if (req->alg == LB_ALG_LEAST_LOAD && req->nres == 0) {
		slb_log_debug("least-load without resources");
		return LB_SEL_BAD_REQUEST;
	}
	/* the cap keeps the per-node exclude scan O(1) */
	if (req->nexclude > LB_MAX_EXCLUDE ||
	    (req->nexclude > 0 && req->exclude == NULL)) {
		slb_log_debug("bad exclude list (%zu)", req->nexclude);
		return LB_SEL_BAD_REQUEST;
	}
	*kp = k;
	return LB_SEL_OK;
}

/* out must hold max_results entries (1 when 0); nout is 0 unless OK. */
enum lb_sel_status
lb_select(struct lb_table *t, const struct lb_select *req,
    struct lb_node **out, unsigned *nout)
{
	enum lb_sel_status st;
	struct best best;
	uint64_t hkey = 0;
	size_t i, offered = 0;
	unsigned k = 1, m;

	*nout = 0;
	if ((st = check_request(req, &k)) != LB_SEL_OK)
		return st;
	if (uses_rr(req)) {
		st = select_rr(t, req, k, out, nout);
		goto out;
	}
	if (uses_hash(req->alg))
		hkey = fnv1a64(req->hash_key ? req->hash_key : "");

	best.k = k;
	best.m = 0;
	for (i = 0; i < t->n; i++) {
		struct cand c = { .n = &t->nodes[i] };
		int64_t avail = 0;

		switch (node_fit(c.n, req, &avail)) {
		case FIT_OK: break;
		case FIT_FULL: offered++; continue;
		default: continue;
		}
		cand_key(t, req, hkey, &c, avail);
		best_offer(&best, &c);
	}
	if (best.m == 0) {
		st = offered ? LB_SEL_NO_CAPACITY : LB_SEL_NO_DESTINATION;
		goto out;
	}
	for (m = 0; m < best.m; m++)
		out[m] = best.c[m].n;
	*nout = best.m;
	st = LB_SEL_OK;
out:
	if (st == LB_SEL_OK)
		out[0]->selected++;
	return st;
}

/* ------------------------------------------------------ all down */

bool
lb_pool_all_down(const struct lb_table *t, const struct lb_select *req)
{
	size_t i, down = 0;

	for (i = 0; i < t->n; i++) {
		const struct lb_node *n = &t->nodes[i];
		uint32_t pool =
		    req->alg == LB_ALG_LEAST_LOAD ? n->group : n->set;

		if (pool != req->group || pool == 0 || !n->enabled ||
		    n->draining)
			continue;
		if (n->up)
			return false;
		down++;
	}
	return down > 0;
}

/* The same choice among the down nodes: the request with down_ok, on a
 * pool with no node up (so only down ones can fit). */
enum lb_sel_status
lb_select_last_resort(struct lb_table *t, const struct lb_select *req,
    struct lb_node **out, unsigned *nout)
{
	struct lb_select q = *req;

	*nout = 0;
	if (!lb_pool_all_down(t, req))
		return LB_SEL_NO_DESTINATION;
	q.down_ok = true;
	return lb_select(t, &q, out, nout);
}
