#define SLB_LOG_MODULE "nodes"
#include "lb.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cfg.h"
#include "log.h"

#define RES_VALUE_MAX 1000000

void
lb_table_init(struct lb_table *t, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

void
lb_table_free(struct lb_table *t)
{
	free(t->nodes);
	t->nodes = NULL;
	t->n = t->cap = 0;
}

int
lb_table_copy(struct lb_table *dst, const struct lb_table *src)
{
	struct lb_node *nodes = NULL;

	if (src->n > 0) {
		nodes = malloc(src->n * sizeof(*nodes));
		if (nodes == NULL)
			return ENOMEM;
		memcpy(nodes, src->nodes, src->n * sizeof(*nodes));
	}
	free(dst->nodes);
	dst->nodes = nodes;
	dst->n = dst->cap = src->n;
	dst->rng = src->rng;
	return 0;
}

uint64_t
lb_rand(struct lb_table *t)
{
	/* xorshift64*: fast, good enough for spreading calls */
	uint64_t x = t->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

struct lb_node *
lb_table_find(const struct lb_table *t, uint32_t id)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->nodes[mid].id == id)
			return &t->nodes[mid];
		if (t->nodes[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

struct lb_node *
lb_table_find_uri(const struct lb_table *t, const char *uri)
{
	for (size_t i = 0; i < t->n; i++)
		if (strcasecmp(t->nodes[i].uri, uri) == 0)
			return &t->nodes[i];
	return NULL;
}

void
lb_node_defaults(struct lb_node *n)
{
	memset(n, 0, sizeof(*n));
	n->weight = 1;
	n->rweight = 1;
	n->enabled = true;
	n->up = true;
}

void
lb_node_update_rweight(struct lb_node *n)
{
	const char *p = n->attrs;

	n->rweight = n->weight;
	/* attrs is "k=v;k=v" as in Kamailio's dispatcher list */
	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, "rweight=", 8) == 0) {
			long v;
			char buf[16];
			size_t len = strcspn(p + 8, "; ");

			if (len > 0 && len < sizeof(buf)) {
				memcpy(buf, p + 8, len);
				buf[len] = '\0';
				if (slb_parse_long(buf, 1, 100, &v) == 0)
					n->rweight = (uint32_t)v;
			}
		}
		p = strchr(p, ';');
	}
}

int
lb_node_validate(const struct lb_node *n, char *err, size_t errlen)
{
	if (strncasecmp(n->uri, "sip:", 4) != 0 &&
	    strncasecmp(n->uri, "sips:", 5) != 0) {
		snprintf(err, errlen,
		    "uri \"%s\": must start with sip: or sips:", n->uri);
		return EINVAL;
	}
	if (strlen(n->uri) < 5 || strpbrk(n->uri, " \t\r\n<>\"") != NULL) {
		snprintf(err, errlen, "uri \"%s\": not a SIP URI", n->uri);
		return EINVAL;
	}
	if (n->weight < 1 || n->weight > 1000000) {
		snprintf(
		    err, errlen, "weight %u: must be 1..1000000", n->weight);
		return EINVAL;
	}
	if (n->probe_mode > 2) {
		snprintf(err, errlen, "probe_mode %u: must be 0, 1 or 2",
		    n->probe_mode);
		return EINVAL;
	}
	return 0;
}

int
lb_table_add(struct lb_table *t, const struct lb_node *n,
    struct lb_node **outp, char *err, size_t errlen)
{
	struct lb_node node = *n;
	size_t pos;
	int rc;

	if ((rc = lb_node_validate(&node, err, errlen)) != 0)
		return rc;
	if (node.id == 0)
		node.id = t->n ? t->nodes[t->n - 1].id + 1 : 1;
	if (lb_table_find(t, node.id) != NULL) {
		snprintf(err, errlen, "node id %u already exists", node.id);
		return EEXIST;
	}
	lb_node_update_rweight(&node);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		struct lb_node *nn = realloc(t->nodes, cap * sizeof(*nn));

		if (nn == NULL) {
			snprintf(err, errlen, "out of memory");
			return ENOMEM;
		}
		t->nodes = nn;
		t->cap = cap;
	}
	for (pos = t->n; pos > 0 && t->nodes[pos - 1].id > node.id; pos--)
		;
	memmove(&t->nodes[pos + 1], &t->nodes[pos],
	    (t->n - pos) * sizeof(*t->nodes));
	t->nodes[pos] = node;
	t->n++;
	if (outp)
		*outp = &t->nodes[pos];
	return 0;
}

int
lb_table_remove(struct lb_table *t, uint32_t id)
{
	struct lb_node *n = lb_table_find(t, id);
	size_t pos;

	if (n == NULL)
		return ENOENT;
	pos = (size_t)(n - t->nodes);
	memmove(&t->nodes[pos], &t->nodes[pos + 1],
	    (t->n - pos - 1) * sizeof(*t->nodes));
	t->n--;
	return 0;
}

/* ------------------------------------------------------------ resources */

static int
valid_res_name(const char *s, size_t len)
{
	if (len == 0 || len >= LB_RES_NAME)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-' && s[i] != '.')
			return 0;
	return 1;
}

static void
trim(const char **b, const char **e)
{
	while (*b < *e && isspace((unsigned char)**b))
		(*b)++;
	while (*e > *b && isspace((unsigned char)(*e)[-1]))
		(*e)--;
}

/* Split on ';' calling fn for each trimmed, non-empty token. */
static int
res_tokens(const char *s,
    int (*fn)(void *, const char *, const char *, char *, size_t), void *arg,
    char *err, size_t errlen)
{
	const char *p = s;

	while (1) {
		const char *end = strchr(p, ';');
		const char *b = p, *e = end ? end : p + strlen(p);
		int rc;

		trim(&b, &e);
		if (b == e) {
			if (end != NULL || p != s) {
				/* "a=1;;b=2" or trailing ";" : OpenSIPS trims
				 * a trailing separator, so do we; an empty
				 * token in the middle is an error */
				if (end != NULL && end[1] != '\0') {
					snprintf(err, errlen,
					    "empty resource in \"%s\"", s);
					return EINVAL;
				}
			}
		} else if ((rc = fn(arg, b, e, err, errlen)) != 0) {
			return rc;
		}
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

struct res_parse {
	struct lb_res *res;
	int n;
	const char *whole;
};

static int
res_one(void *arg, const char *b, const char *e, char *err, size_t errlen)
{
	struct res_parse *rp = arg;
	const char *eq = memchr(b, '=', (size_t)(e - b));
	const char *nb = b, *ne, *vb, *ve;
	char val[16];
	long v;

	if (eq == NULL) {
		snprintf(err, errlen,
		    "resource \"%.*s\" in \"%s\" must have a value (name=max)",
		    (int)(e - b), b, rp->whole);
		return EINVAL;
	}
	ne = eq;
	vb = eq + 1;
	ve = e;
	trim(&nb, &ne);
	trim(&vb, &ve);
	if (!valid_res_name(nb, (size_t)(ne - nb))) {
		snprintf(err, errlen,
		    "resource name \"%.*s\" in \"%s\": use 1..%d of "
		    "[A-Za-z0-9_.-]",
		    (int)(ne - nb), nb, rp->whole, LB_RES_NAME - 1);
		return EINVAL;
	}
	if ((size_t)(ve - vb) >= sizeof(val) || ve == vb) {
		snprintf(err, errlen,
		    "resource %.*s: value \"%.*s\" must be "
		    "0..%d",
		    (int)(ne - nb), nb, (int)(ve - vb), vb, RES_VALUE_MAX);
		return EINVAL;
	}
	memcpy(val, vb, (size_t)(ve - vb));
	val[ve - vb] = '\0';
	if (slb_parse_long(val, 0, RES_VALUE_MAX, &v) != 0) {
		snprintf(err, errlen,
		    "resource %.*s: value \"%s\" must be 0..%d",
		    (int)(ne - nb), nb, val, RES_VALUE_MAX);
		return EINVAL;
	}
	for (int i = 0; i < rp->n; i++)
		if (strlen(rp->res[i].name) == (size_t)(ne - nb) &&
		    strncmp(rp->res[i].name, nb, (size_t)(ne - nb)) == 0) {
			snprintf(err, errlen,
			    "resource %.*s given twice in "
			    "\"%s\"",
			    (int)(ne - nb), nb, rp->whole);
			return EINVAL;
		}
	if (rp->n >= LB_MAX_RES) {
		snprintf(err, errlen, "more than %d resources in \"%s\"",
		    LB_MAX_RES, rp->whole);
		return EINVAL;
	}
	memset(&rp->res[rp->n], 0, sizeof(rp->res[rp->n]));
	memcpy(rp->res[rp->n].name, nb, (size_t)(ne - nb));
	rp->res[rp->n].cap = (int32_t)v;
	rp->n++;
	return 0;
}

int
lb_res_parse(
    const char *s, struct lb_res *res, int *nres, char *err, size_t errlen)
{
	struct lb_res tmp[LB_MAX_RES];
	struct res_parse rp = { .res = tmp, .n = 0, .whole = s };
	int rc;

	if ((rc = res_tokens(s, res_one, &rp, err, errlen)) != 0)
		return rc;
	memcpy(res, tmp, (size_t)rp.n * sizeof(*tmp));
	*nres = rp.n;
	return 0;
}

struct names_parse {
	char (*names)[LB_RES_NAME];
	int n;
	const char *whole;
};

static int
name_one(void *arg, const char *b, const char *e, char *err, size_t errlen)
{
	struct names_parse *np = arg;

	if (!valid_res_name(b, (size_t)(e - b))) {
		snprintf(err, errlen,
		    "resource name \"%.*s\" in \"%s\": use 1..%d of "
		    "[A-Za-z0-9_.-]",
		    (int)(e - b), b, np->whole, LB_RES_NAME - 1);
		return EINVAL;
	}
	if (np->n >= LB_MAX_RES) {
		snprintf(err, errlen, "more than %d resources in \"%s\"",
		    LB_MAX_RES, np->whole);
		return EINVAL;
	}
	memcpy(np->names[np->n], b, (size_t)(e - b));
	np->names[np->n][e - b] = '\0';
	np->n++;
	return 0;
}

int
lb_res_names_parse(const char *s, char (*names)[LB_RES_NAME], int *n,
    char *err, size_t errlen)
{
	char tmp[LB_MAX_RES][LB_RES_NAME];
	struct names_parse np = { .names = tmp, .n = 0, .whole = s };
	int rc;

	if ((rc = res_tokens(s, name_one, &np, err, errlen)) != 0)
		return rc;
	memcpy(names, tmp, sizeof(tmp[0]) * (size_t)np.n);
	*n = np.n;
	return 0;
}

int
lb_res_format(const struct lb_res *res, int nres, char *buf, size_t len)
{
	size_t off = 0;

	if (len == 0)
		return ENOSPC;
	buf[0] = '\0';
	for (int i = 0; i < nres; i++) {
		int w = snprintf(buf + off, len - off, "%s%s=%d", i ? ";" : "",
		    res[i].name, res[i].cap);

		if (w < 0 || (size_t)w >= len - off)
			return ENOSPC;
		off += (size_t)w;
	}
	return 0;
}

struct lb_res *
lb_node_res(struct lb_node *n, const char *name)
{
	for (int i = 0; i < n->nres; i++)
		if (strcmp(n->res[i].name, name) == 0)
			return &n->res[i];
	return NULL;
}

void
lb_res_add_load(struct lb_node *n, struct lb_res *r, int32_t delta)
{
	int64_t v = (int64_t)r->load + delta;

	if (v < 0) {
		slb_log_warn("node %u %s: load of %s would go to %lld, "
			     "clamped at 0",
		    n->id, n->uri, r->name, (long long)v);
		v = 0;
	}
	if (v > INT32_MAX)
		v = INT32_MAX;
	r->load = (int32_t)v;
}

/* ------------------------------------------------------------ the file */

struct file_parse {
	struct lb_table *t;
	struct lb_node cur;
	int have; /* cur holds the section being read */
	int line; /* of cur's [node ID] header */
	char section[64];
	char err[512]; /* a whole-section error, at `line` */
	int err_line;
};

/* Add the node of the section just read.  A refusal concerns the whole
 * section, so it is reported at the section's header line. */
static int
flush_node(struct file_parse *fp)
{
	char err[256];

	if (!fp->have)
		return 0;
	fp->have = 0;
	if (fp->cur.uri[0] == '\0') {
		snprintf(fp->err, sizeof(fp->err), "[%s]: uri is missing",
		    fp->section);
		fp->err_line = fp->line;
		return EINVAL;
	}
	if (lb_table_add(fp->t, &fp->cur, NULL, err, sizeof(err)) != 0) {
		snprintf(
		    fp->err, sizeof(fp->err), "[%s]: %s", fp->section, err);
		fp->err_line = fp->line;
		return EINVAL;
	}
	return 0;
}

static int
node_key(struct lb_node *n, const char *name, const char *value, char *err,
    size_t errlen)
{
	long v;
	int b = -1;

	if (strcmp(name, "uri") == 0) {
		if (n->uri[0] != '\0') {
			snprintf(err, errlen, "uri given twice");
			return EINVAL;
		}
		if (strlen(value) >= sizeof(n->uri))
			goto toolong;
		strcpy(n->uri, value);
		/* refuse a bad URI at its own line, not at the section's end
		 * (the other fields were checked as they were read) */
		return lb_node_validate(n, err, errlen);
	} else if (strcmp(name, "group") == 0) {
		if (slb_parse_long(value, 0, UINT32_MAX, &v) != 0)
			goto badnum;
		n->group = (uint32_t)v;
	} else if (strcmp(name, "set") == 0) {
		if (slb_parse_long(value, 0, UINT32_MAX, &v) != 0)
			goto badnum;
		n->set = (uint32_t)v;
	} else if (strcmp(name, "weight") == 0) {
		if (slb_parse_long(value, 1, 1000000, &v) != 0)
			goto badnum;
		n->weight = (uint32_t)v;
	} else if (strcmp(name, "priority") == 0) {
		if (slb_parse_long(value, INT32_MIN, INT32_MAX, &v) != 0)
			goto badnum;
		n->priority = (int32_t)v;
	} else if (strcmp(name, "probe_mode") == 0) {
		if (slb_parse_long(value, 0, 2, &v) != 0)
			goto badnum;
		n->probe_mode = (uint32_t)v;
	} else if (strcmp(name, "resources") == 0) {
		return lb_res_parse(value, n->res, &n->nres, err, errlen);
	} else if (strcmp(name, "enabled") == 0) {
		if (!strcasecmp(value, "yes") || !strcasecmp(value, "true") ||
		    !strcmp(value, "1") || !strcasecmp(value, "on"))
			b = 1;
		else if (!strcasecmp(value, "no") ||
		    !strcasecmp(value, "false") || !strcmp(value, "0") ||
		    !strcasecmp(value, "off"))
			b = 0;
		if (b < 0) {
			snprintf(err, errlen, "enabled: must be yes or no");
			return EINVAL;
		}
		n->enabled = b;
	} else if (strcmp(name, "description") == 0) {
		if (strlen(value) >= sizeof(n->description))
			goto toolong;
		strcpy(n->description, value);
	} else if (strcmp(name, "attrs") == 0) {
		if (strlen(value) >= sizeof(n->attrs))
			goto toolong;
		strcpy(n->attrs, value);
	} else if (strcmp(name, "socket") == 0) {
		if (strlen(value) >= sizeof(n->socket))
			goto toolong;
		strcpy(n->socket, value);
	} else {
		snprintf(err, errlen,
		    "%s: unknown key (uri, group, set, "
		    "resources, weight, priority, probe_mode, enabled, "
		    "description, attrs, socket)",
		    name);
		return EINVAL;
	}
	return 0;
toolong:
	snprintf(err, errlen, "%s: too long", name);
	return EINVAL;
badnum:
	snprintf(
	    err, errlen, "%s: \"%s\" is not a valid number here", name, value);
	return EINVAL;
}

static int
on_file_line(void *user, int line, const char *section, const char *name,
    const char *value, char *err, size_t errlen)
{
	struct file_parse *fp = user;
	char why[256];
	long id;

	if (name == NULL) {
		/* "[node ID]": the previous node is complete */
		if (flush_node(fp) != 0)
			return EINVAL;
		if (strncmp(section, "node ", 5) != 0 ||
		    slb_parse_long(section + 5, 1, UINT32_MAX, &id) != 0) {
			snprintf(err, errlen,
			    "[%s]: expected [node ID] with ID 1..4294967295",
			    section);
			return EINVAL;
		}
		/* the table holds every node read so far */
		if (lb_table_find(fp->t, (uint32_t)id) != NULL) {
			snprintf(
			    err, errlen, "[%s]: section given twice", section);
			return EINVAL;
		}
		snprintf(fp->section, sizeof(fp->section), "%s", section);
		lb_node_defaults(&fp->cur);
		fp->cur.id = (uint32_t)id;
		fp->have = 1;
		fp->line = line;
		return 0;
	}
	if (!fp->have) {
		snprintf(err, errlen, "%s: key outside any [node ID] section",
		    name);
		return EINVAL;
	}
	if (node_key(&fp->cur, name, value, why, sizeof(why)) != 0) {
		snprintf(err, errlen, "[%s] %s", section, why);
		return EINVAL;
	}
	return 0;
}

/* Expects an empty table; on error it may hold the nodes read before. */
int
lb_nodes_file_load(
    const char *path, struct lb_table *t, char *err, size_t errlen)
{
	struct file_parse fp = { .t = t };
	int rc;

	rc = slb_ini_parse(path, on_file_line, &fp, err, errlen);
	if (rc == 0 && flush_node(&fp) != 0)
		rc = EINVAL;
	if (rc != 0 && fp.err_line != 0)
		snprintf(err, errlen, "%s:%d: %s", path, fp.err_line, fp.err);
	return rc;
}

int
lb_nodes_file_save(
    const char *path, const struct lb_table *t, char *err, size_t errlen)
{
	char tmp[4096], res[1024];
	FILE *f;
	int rc = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >=
	    (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return ENAMETOOLONG;
	}
	f = fopen(tmp, "w");
	if (f == NULL) {
		rc = errno;
		snprintf(err, errlen, "%s: %s", tmp, strerror(rc));
		return rc;
	}
	fprintf(f,
	    "# siplb node table, written by siplb-scheduler.\n"
	    "# Edit while it runs, then `siplbctl reload`; admin changes "
	    "rewrite this file.\n");
	for (size_t i = 0; i < t->n; i++) {
		const struct lb_node *n = &t->nodes[i];

		if (lb_res_format(n->res, n->nres, res, sizeof(res)) != 0)
			res[0] = '\0';
		fprintf(f, "\n[node %u]\nuri = %s\n", n->id, n->uri);
		if (n->group)
			fprintf(f, "group = %u\n", n->group);
		if (n->set)
			fprintf(f, "set = %u\n", n->set);
		if (n->nres)
			fprintf(f, "resources = %s\n", res);
		fprintf(f,
		    "weight = %u\npriority = %d\nprobe_mode = %u\n"
		    "enabled = %s\n",
		    n->weight, n->priority, n->probe_mode,
		    n->enabled ? "yes" : "no");
		if (n->description[0])
			fprintf(f, "description = %s\n", n->description);
		if (n->attrs[0])
			fprintf(f, "attrs = %s\n", n->attrs);
		if (n->socket[0])
			fprintf(f, "socket = %s\n", n->socket);
	}
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		rc = errno;
	if (fclose(f) != 0 && rc == 0)
		rc = errno;
	if (rc == 0 && rename(tmp, path) != 0)
		rc = errno;
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(rc));
		unlink(tmp);
	}
	return rc;
}

void
lb_table_inherit(struct lb_table *newt, const struct lb_table *old)
{
	for (size_t i = 0; i < newt->n; i++) {
		struct lb_node *n = &newt->nodes[i];
		const struct lb_node *o = lb_table_find(old, n->id);

		if (o == NULL || strcasecmp(o->uri, n->uri) != 0)
			continue;
		n->up = o->up;
		n->rtt_us = o->rtt_us;
		n->last_code = o->last_code;
		n->selected = o->selected;
		n->failed_over = o->failed_over;
		n->wrr_current = o->wrr_current;
	}
	newt->rng = old->rng;
}
