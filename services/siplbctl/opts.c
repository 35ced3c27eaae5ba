/*
 * siplbctl's command options: one getopt_long table for every command
 * (a command reads only the fields it uses), parsed into struct ctl_opts.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cfg.h"
#include "ctl.h"
#include "dialog.h"

int
ctl_parse_u32(const char *s, const char *what, uint32_t *out)
{
	long v;

	if (slb_parse_long(s, 0, UINT32_MAX, &v) != 0) {
		fprintf(
		    stderr, "siplbctl: %s: \"%s\" is not a number\n", what, s);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

enum {
	O_URI = 256,
	O_ID,
	O_GROUP,
	O_SET,
	O_RES,
	O_WEIGHT,
	O_PRIO,
	O_PROBE,
	O_DESC,
	O_ATTRS,
	O_SOCKET,
	O_DISABLED,
	O_RESOURCE,
	O_ALG,
	O_KEY,
	O_HASHKEY,
	O_EXCLUDE,
	O_MAX,
	O_RELATIVE,
	O_OVERCOMMIT,
	O_RESERVE,
	O_TIEFIRST,
	O_RESET,
	O_NODE,
	O_STATE,
	O_EDGE,
	O_LIMIT,
	O_COUNTS,
};

static const struct option long_opts[] = {
	{ "uri", required_argument, NULL, O_URI },
	{ "id", required_argument, NULL, O_ID },
	{ "group", required_argument, NULL, O_GROUP },
	{ "set", required_argument, NULL, O_SET },
	{ "resources", required_argument, NULL, O_RES },
	{ "weight", required_argument, NULL, O_WEIGHT },
	{ "priority", required_argument, NULL, O_PRIO },
	{ "probe-mode", required_argument, NULL, O_PROBE },
	{ "description", required_argument, NULL, O_DESC },
	{ "attrs", required_argument, NULL, O_ATTRS },
	{ "socket", required_argument, NULL, O_SOCKET },
	{ "disabled", no_argument, NULL, O_DISABLED },
	{ "resource", required_argument, NULL, O_RESOURCE },
	{ "algorithm", required_argument, NULL, O_ALG },
	{ "key", required_argument, NULL, O_KEY },
	{ "hash-key", required_argument, NULL, O_HASHKEY },
	{ "exclude", required_argument, NULL, O_EXCLUDE },
	{ "max", required_argument, NULL, O_MAX },
	{ "relative", no_argument, NULL, O_RELATIVE },
	{ "overcommit", no_argument, NULL, O_OVERCOMMIT },
	{ "reserve", no_argument, NULL, O_RESERVE },
	{ "tie-first", no_argument, NULL, O_TIEFIRST },
	{ "reset", no_argument, NULL, O_RESET },
	{ "node", required_argument, NULL, O_NODE },
	{ "state", required_argument, NULL, O_STATE },
	{ "edge", required_argument, NULL, O_EDGE },
	{ "limit", required_argument, NULL, O_LIMIT },
	{ "counts", no_argument, NULL, O_COUNTS },
	{ NULL, 0, NULL, 0 },
};

/*
 * One option each, grouped by the command that reads it: 0 taken, -1
 * bad (most say why on stderr), 1 not one of this group's.  Any command
 * takes any option; it reads only the fields it uses.
 */

/* node add, node set */
static int
node_opt(int c, struct ctl_opts *o)
{
	long lv;

	switch (c) {
	case O_URI: o->spec.uri = optarg; break;
	case O_ID:
		if (ctl_parse_u32(optarg, "--id", &o->spec.id))
			return -1;
		break;
	case O_GROUP:
		if (ctl_parse_u32(optarg, "--group", &o->spec.group))
			return -1;
		o->sel.group = o->spec.group; /* select --group too */
		o->seen_group = 1;
		break;
	case O_SET:
		if (ctl_parse_u32(optarg, "--set", &o->spec.set))
			return -1;
		o->seen_set = 1;
		break;
	case O_RES: o->spec.resources = optarg; break;
	case O_WEIGHT:
		if (ctl_parse_u32(optarg, "--weight", &o->spec.weight))
			return -1;
		o->spec.has_weight = 1;
		break;
	case O_PRIO:
		if (slb_parse_long(optarg, INT32_MIN, INT32_MAX, &lv)) {
			fprintf(stderr,
			    "siplbctl: --priority: \"%s\" is "
			    "not a number\n",
			    optarg);
			return -1;
		}
		o->spec.priority = (int32_t)lv;
		o->spec.has_priority = 1;
		break;
	case O_PROBE:
		if (ctl_parse_u32(optarg, "--probe-mode", &o->spec.probe_mode))
			return -1;
		break;
	case O_DESC: o->spec.description = optarg; break;
	case O_ATTRS: o->spec.attrs = optarg; break;
	case O_SOCKET: o->spec.socket = optarg; break;
	case O_DISABLED: o->spec.disabled = 1; break;
	default: return 1;
	}
	return 0;
}

/* select */
static int
select_opt(int c, struct ctl_opts *o)
{
	uint32_t v;

	switch (c) {
	case O_RESOURCE:
		if (o->sel.n_resources >= 16)
			return -1;
		o->resource[o->sel.n_resources++] = optarg;
		o->sel.resources = o->resource;
		break;
	case O_ALG: o->sel.algorithm = optarg; break;
	case O_KEY:
		o->sel.key = optarg;
		o->dq.key = optarg; /* dialogs --key too */
		break;
	case O_HASHKEY: o->sel.hash_key = optarg; break;
	case O_EXCLUDE: {
		char parts[64][SLB_CFG_STRLEN];
		int n = slb_cfg_split(optarg, ',', parts, 64);

		if (n < 0)
			return -1;
		for (int i = 0; i < n; i++) {
			if (ctl_parse_u32(parts[i], "--exclude", &v))
				return -1;
			if (o->sel.n_exclude >=
			    sizeof(o->exclude) / sizeof(o->exclude[0])) {
				fprintf(stderr,
				    "siplbctl: --exclude: at most "
				    "%zu nodes\n",
				    sizeof(o->exclude) /
					sizeof(o->exclude[0]));
				return -1;
			}
			o->exclude[o->sel.n_exclude++] = v;
		}
		o->sel.exclude = o->exclude;
		break;
	}
	case O_MAX:
		if (ctl_parse_u32(optarg, "--max", &o->sel.max_results))
			return -1;
		break;
	case O_RELATIVE: o->sel.relative = 1; break;
	case O_OVERCOMMIT: o->sel.overcommit = 1; break;
	case O_RESERVE: o->sel.reserve = 1; break;
	case O_TIEFIRST: o->sel.tie_first = 1; break;
	default: return 1;
	}
	return 0;
}

/* dialogs, reload */
static int
query_opt(int c, struct ctl_opts *o)
{
	enum slb_dialog_state ds;

	switch (c) {
	case O_RESET: o->reset = 1; break;
	case O_NODE:
		if (ctl_parse_u32(optarg, "--node", &o->dq.node_id))
			return -1;
		break;
	case O_STATE:
		if (slb_dialog_state_parse(optarg, &ds) == 0)
			o->dq.state = (Siplb__V1__DialogState)ds;
		else {
			fprintf(stderr,
			    "siplbctl: --state: created, "
			    "confirmed or terminated\n");
			return -1;
		}
		break;
	case O_EDGE: o->dq.edge = optarg; break;
	case O_LIMIT:
		if (ctl_parse_u32(optarg, "--limit", &o->dq.limit))
			return -1;
		break;
	case O_COUNTS: o->dq.counts = 1; break;
	default: return 1;
	}
	return 0;
}

int
ctl_parse_opts(int argc, char **argv, struct ctl_opts *o)
{
	int c, rc;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		if ((rc = node_opt(c, o)) > 0 && (rc = select_opt(c, o)) > 0)
			rc = query_opt(c, o);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			fprintf(stderr,
			    "siplbctl: unknown or incomplete option "
			    "\"%s\"\n",
			    argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "siplbctl: unexpected argument \"%s\"\n",
		    argv[optind]);
		return -1;
	}
	return 0;
}
