#define SLB_LOG_MODULE "cfg"
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"

#ifndef SIPLB_VERSION
#define SIPLB_VERSION "0.1.0"
#endif

/* Sections any siplb program may meet in the shared file. */
static const char *known_sections[] = {
    "general", "scheduler", "edge", "prober", "dialogd", "admin", "ctl",
    NULL,
};

struct cfg_parse {
	const struct slb_cfg_key *keys;
	void *out;
	unsigned flags;
	slb_cfg_section_h other;
	void *arg;
	char err[512];		/* first error, without file:line */
	int failed;
};

int
slb_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s)
		return EINVAL;
	if (v < min || v > max)
		return ERANGE;
	*out = v;
	return 0;
}

static int
parse_bool(const char *s, int *out)
{
	static const char *yes[] = {"yes", "true", "on", "1", NULL};
	static const char *no[] = {"no", "false", "off", "0", NULL};

	for (int i = 0; yes[i]; i++)
		if (strcasecmp(s, yes[i]) == 0)
			return *out = 1, 0;
	for (int i = 0; no[i]; i++)
		if (strcasecmp(s, no[i]) == 0)
			return *out = 0, 0;
	return EINVAL;
}

static int
section_owned(const struct slb_cfg_key *keys, const char *section)
{
	for (const struct slb_cfg_key *k = keys; k->name; k++)
		if (strcmp(k->section, section) == 0)
			return 1;
	return 0;
}

static int
set_key(const struct slb_cfg_key *k, void *out, const char *value, char *err,
    size_t errlen)
{
	char *dst = (char *)out + k->off;
	long v;
	int b, rc;

	switch (k->type) {
	case SLB_CFG_STR:
	case SLB_CFG_ADDR:
		if (strlen(value) >= SLB_CFG_STRLEN) {
			snprintf(err, errlen, "[%s] %s: longer than %d bytes",
			    k->section, k->name, SLB_CFG_STRLEN - 1);
			return EINVAL;
		}
		if (k->type == SLB_CFG_ADDR && value[0] != '\0' &&
		    strncmp(value, "ipc://", 6) != 0 &&
		    strncmp(value, "tcp://", 6) != 0 &&
		    strncmp(value, "inproc://", 9) != 0) {
			snprintf(err, errlen,
			    "[%s] %s: must be an ipc://, tcp:// or inproc:// "
			    "address, not \"%s\"",
			    k->section, k->name, value);
			return EINVAL;
		}
		strcpy(dst, value);
		return 0;
	case SLB_CFG_INT:
		rc = slb_parse_long(value, k->min, k->max, &v);
		if (rc != 0) {
			snprintf(err, errlen, "[%s] %s: must be %ld..%ld, not \"%s\"",
			    k->section, k->name, k->min, k->max, value);
			return EINVAL;
		}
		*(int *)dst = (int)v;
		return 0;
	case SLB_CFG_BOOL:
		if (parse_bool(value, &b) != 0) {
			snprintf(err, errlen,
			    "[%s] %s: must be yes or no, not \"%s\"", k->section,
			    k->name, value);
			return EINVAL;
		}
		*(int *)dst = b;
		return 0;
	case SLB_CFG_LEVEL:
		if (slb_log_level_parse(value) < 0) {
			snprintf(err, errlen,
			    "[%s] %s: must be err, warn, notice, info or debug, "
			    "not \"%s\"",
			    k->section, k->name, value);
			return EINVAL;
		}
		snprintf(dst, SLB_CFG_STRLEN, "%s", value);
		return 0;
	case SLB_CFG_FACILITY:
		if (slb_log_facility_parse(value) < 0) {
			snprintf(err, errlen,
			    "[%s] %s: must be local0..local7, daemon or user, "
			    "not \"%s\"",
			    k->section, k->name, value);
			return EINVAL;
		}
		snprintf(dst, SLB_CFG_STRLEN, "%s", value);
		return 0;
	}
	snprintf(err, errlen, "[%s] %s: unknown type", k->section, k->name);
	return EINVAL;
}

int
slb_cfg_set(const struct slb_cfg_key *keys, void *out, const char *section,
    const char *name, const char *value, char *err, size_t errlen)
{
	for (const struct slb_cfg_key *k = keys; k->name; k++)
		if (strcmp(k->section, section) == 0 &&
		    strcmp(k->name, name) == 0)
			return set_key(k, out, value, err, errlen);
	snprintf(err, errlen, "[%s] %s: unknown key", section, name);
	return ENOENT;
}

static int
on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct cfg_parse *p = user;
	char err[512];
	int known = 0;

	if (p->failed)
		return 1;	/* report only the first error, at its line */
	if (name == NULL)
		return 1;	/* section header alone (inih with CALL_HANDLER_ON_NEW_SECTION) */
	if (section_owned(p->keys, section)) {
		int rc = slb_cfg_set(p->keys, p->out, section, name, value, err,
		    sizeof(err));
		if (rc == ENOENT && (p->flags & SLB_CFG_PARTIAL))
			return 1;
		if (rc != 0)
			goto fail;
		return 1;
	}
	for (int i = 0; known_sections[i]; i++)
		if (strcmp(section, known_sections[i]) == 0)
			known = 1;
	if (strncmp(section, "node ", 5) == 0 && p->other == NULL)
		known = 1;	/* node table sections belong to the scheduler */
	if (known)
		return 1;	/* another program's section */
	if (p->other != NULL) {
		if (p->other(p->arg, section, name, value, err, sizeof(err)) != 0)
			goto fail;
		return 1;
	}
	if (p->flags & SLB_CFG_PARTIAL)
		return 1;
	if (section[0] == '\0')
		snprintf(err, sizeof(err), "%s: key outside any section", name);
	else
		snprintf(err, sizeof(err), "[%s]: unknown section", section);
fail:
	snprintf(p->err, sizeof(p->err), "%s", err);
	p->failed = 1;
	return 0;
}

static void
expand_addrs(const struct slb_cfg_key *keys, void *out)
{
	const char *run_dir = NULL;

	for (const struct slb_cfg_key *k = keys; k->name; k++)
		if (strcmp(k->section, "general") == 0 &&
		    strcmp(k->name, "run_dir") == 0)
			run_dir = (const char *)out + k->off;
	if (run_dir == NULL)
		return;
	for (const struct slb_cfg_key *k = keys; k->name; k++)
		if (k->type == SLB_CFG_ADDR)
			slb_cfg_expand_addr((char *)out + k->off, run_dir);
}

void
slb_cfg_expand_addr(char *addr, const char *run_dir)
{
	char tmp[SLB_CFG_STRLEN * 2];

	if (strncmp(addr, "ipc://", 6) != 0 || addr[6] == '/' ||
	    addr[6] == '\0')
		return;
	snprintf(tmp, sizeof(tmp), "ipc://%s/%s", run_dir, addr + 6);
	if (strlen(tmp) < SLB_CFG_STRLEN)
		strcpy(addr, tmp);
}

int
slb_cfg_load(const char *path, const struct slb_cfg_key *keys, void *out,
    unsigned flags, slb_cfg_section_h other, void *arg, char *err,
    size_t errlen)
{
	struct cfg_parse p = {.keys = keys, .out = out, .flags = flags,
	    .other = other, .arg = arg};
	char e[512];
	int line;

	for (const struct slb_cfg_key *k = keys; k->name; k++) {
		if (k->def == NULL)
			continue;
		if (set_key(k, out, k->def, e, sizeof(e)) != 0) {
			snprintf(err, errlen, "built-in default: %s", e);
			return EINVAL;
		}
	}
	if (path != NULL) {
		line = ini_parse(path, on_ini, &p);
		if (line == -1) {
			snprintf(err, errlen, "%s: cannot open: %s", path,
			    strerror(errno ? errno : ENOENT));
			return ENOENT;
		}
		if (line == -2) {
			snprintf(err, errlen, "%s: out of memory", path);
			return ENOMEM;
		}
		if (line > 0) {
			if (p.failed)
				snprintf(err, errlen, "%s:%d: %s", path, line,
				    p.err);
			else
				snprintf(err, errlen,
				    "%s:%d: syntax error (expected [section] "
				    "or key = value)",
				    path, line);
			return EINVAL;
		}
	}
	expand_addrs(keys, out);
	return 0;
}

int
slb_cfg_split(const char *s, char sep, char (*out)[SLB_CFG_STRLEN], int max)
{
	int n = 0;

	while (*s) {
		const char *end = strchr(s, sep);
		size_t len = end ? (size_t)(end - s) : strlen(s);
		const char *b = s, *e = s + len;

		while (b < e && isspace((unsigned char)*b))
			b++;
		while (e > b && isspace((unsigned char)e[-1]))
			e--;
		if (e > b) {
			if (n >= max || (size_t)(e - b) >= SLB_CFG_STRLEN)
				return -1;
			memcpy(out[n], b, (size_t)(e - b));
			out[n][e - b] = '\0';
			n++;
		}
		if (end == NULL)
			break;
		s = end + 1;
	}
	return n;
}

void
slb_cfg_dump_doc(const struct slb_cfg_key *keys)
{
	const char *sec = "";

	for (const struct slb_cfg_key *k = keys; k->name; k++) {
		if (strcmp(sec, k->section) != 0) {
			printf("\n[%s]\n", k->section);
			sec = k->section;
		}
		printf("  %-22s default %-28s %s\n", k->name,
		    k->def && *k->def ? k->def : "(empty)", k->doc);
	}
}

int
slb_opts_parse(struct slb_opts *o, int argc, char **argv, const char *prog,
    const char *usage)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->cfg_path = getenv("SIPLB_CONF");
	if (o->cfg_path != NULL && *o->cfg_path != '\0')
		o->cfg_given = 1;
	else
		o->cfg_path = SLB_DEFAULT_CONF;
	optind = 1;
	/* '+' stops at the first non-option: siplbctl subcommands */
	while ((c = getopt(argc, argv, "+c:tdhV")) != -1) {
		switch (c) {
		case 'c':
			o->cfg_path = optarg;
			o->cfg_given = 1;
			break;
		case 't':
			o->check_only = 1;
			break;
		case 'd':
			o->debug = 1;
			break;
		case 'V':
			printf("%s %s\n", prog, SIPLB_VERSION);
			return 1;
		case 'h':
			printf("usage: %s [-c FILE] [-t] [-d] %s\n"
			       "  -c FILE  configuration (default $SIPLB_CONF, "
			       "else " SLB_DEFAULT_CONF ")\n"
			       "  -t       check the configuration and exit\n"
			       "  -d       log at debug level\n",
			    prog, usage ? usage : "");
			return 1;
		default:
			fprintf(stderr, "usage: %s [-c FILE] [-t] [-d] %s\n",
			    prog, usage ? usage : "");
			return -1;
		}
	}
	if (!o->cfg_given && access(o->cfg_path, F_OK) != 0)
		o->cfg_path = NULL;	/* built-in defaults */
	o->argc = argc - optind;
	o->argv = argv + optind;
	return 0;
}

int
slb_cfg_report_ok(const char *path)
{
	printf("%s: configuration OK\n", path ? path : "(built-in defaults)");
	return 0;
}
