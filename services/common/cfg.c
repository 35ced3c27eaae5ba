#define SLB_LOG_MODULE "cfg"
#include "cfg.h"

#include <ctype.h>
#include <errno.h>
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
	"general",
	"scheduler",
	"edge",
	"prober",
	"dialogd",
	"admin",
	"ctl",
	NULL,
};

struct cfg_parse {
	const struct slb_cfg_key *keys;
	void *out;
	unsigned flags;
	slb_cfg_section_h other;
	void *arg;
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
	static const char *yes[] = { "yes", "true", "on", "1", NULL };
	static const char *no[] = { "no", "false", "off", "0", NULL };

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
			snprintf(err, errlen,
			    "[%s] %s: must be %ld..%ld, not \"%s\"",
			    k->section, k->name, k->min, k->max, value);
			return EINVAL;
		}
		*(int *)dst = (int)v;
		return 0;
	case SLB_CFG_BOOL:
		if (parse_bool(value, &b) != 0) {
			snprintf(err, errlen,
			    "[%s] %s: must be yes or no, not \"%s\"",
			    k->section, k->name, value);
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

/* ------------------------------------------------------------ INI files */

static const char ini_syntax[] =
    "syntax error (expected [section] or key = value)";

/* Read one line, without its '\n', into buf (cap bytes, NUL-terminated).
 * Returns 1 with *len set, 0 at the end of the file, -1 on a read error
 * (errno set) or -2 when the line does not fit. */
static int
ini_read_line(FILE *fp, char *buf, size_t cap, size_t *len)
{
	size_t n = 0;
	int c;

	while ((c = getc(fp)) != EOF && c != '\n') {
		if (n + 1 >= cap)
			return -2;
		buf[n++] = (char)c;
	}
	if (c == EOF) {
		if (ferror(fp))
			return -1;
		if (n == 0)
			return 0; /* the last line had its '\n' */
	}
	buf[n] = '\0';
	*len = n;
	return 1;
}

static char *
ini_trim(char *b, char *e)
{
	while (b < e && isspace((unsigned char)*b))
		b++;
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	*e = '\0';
	return b;
}

/* Split one line in place.  Returns 0 for a blank or comment line, 1 for a
 * section header (*name), 2 for a key (*name, *value), -1 for a syntax
 * error. */
static int
ini_split_line(char *line, size_t len, char **name, char **value)
{
	char *s = ini_trim(line, line + len);
	size_t n = strlen(s);
	char *eq;

	if (n == 0 || s[0] == ';' || s[0] == '#')
		return 0;
	if (s[0] == '[') {
		if (s[n - 1] != ']' || memchr(s + 1, ']', n - 2) != NULL)
			return -1;
		*name = ini_trim(s + 1, s + n - 1);
		return **name == '\0' ? -1 : 1;
	}
	eq = strchr(s, '=');
	if (eq == NULL)
		return -1;
	*value = ini_trim(eq + 1, s + n);
	*name = ini_trim(s, eq);
	return **name == '\0' ? -1 : 2;
}

int
slb_ini_parse(const char *path, slb_ini_handler handler, void *user, char *err,
    size_t errlen)
{
	char buf[SLB_INI_MAX_LINE + 1], section[SLB_INI_MAX_LINE + 1];
	char why[1024];
	char *name, *value = NULL;
	FILE *fp;
	size_t len;
	int line = 0, rc = 0, r;

	fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(
		    err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return ENOENT;
	}
	section[0] = '\0';
	while (rc == 0) {
		errno = 0;
		r = ini_read_line(fp, buf, sizeof(buf), &len);
		if (r == 0)
			break;
		if (line == INT_MAX) {
			snprintf(why, sizeof(why), "too many lines");
			rc = EINVAL;
			break;
		}
		line++;
		if (r == -1) {
			snprintf(why, sizeof(why), "read error: %s",
			    strerror(errno ? errno : EIO));
			rc = EIO;
			break;
		}
		if (r == -2) {
			snprintf(why, sizeof(why),
			    "line too long (max %d bytes)", SLB_INI_MAX_LINE);
			rc = EINVAL;
			break;
		}
		name = buf;
		if (line == 1 && strncmp(buf, "\xEF\xBB\xBF", 3) == 0) {
			name += 3; /* UTF-8 byte order mark */
			len -= 3;
		}
		if (strlen(name) != len) {
			snprintf(why, sizeof(why), "NUL byte in line");
			rc = EINVAL;
			break;
		}
		why[0] = '\0';
		switch (ini_split_line(name, len, &name, &value)) {
		case 0: break;
		case 1:
			memmove(section, name, strlen(name) + 1);
			if (handler(user, line, section, NULL, NULL, why,
				sizeof(why)) != 0)
				rc = EINVAL;
			break;
		case 2:
			if (handler(user, line, section, name, value, why,
				sizeof(why)) != 0)
				rc = EINVAL;
			break;
		default:
			snprintf(why, sizeof(why), "%s", ini_syntax);
			rc = EINVAL;
			break;
		}
	}
	fclose(fp);
	if (rc != 0)
		snprintf(err, errlen, "%s:%d: %s", path, line,
		    why[0] ? why : "refused");
	return rc;
}

/* ------------------------------------------------------------ the table */

static int
on_cfg_line(void *user, int line, const char *section, const char *name,
    const char *value, char *err, size_t errlen)
{
	struct cfg_parse *p = user;
	int known = 0;
	int rc;

	if (name == NULL)
		return 0; /* a section header: its keys tell */
	if (section_owned(p->keys, section)) {
		rc = slb_cfg_set(
		    p->keys, p->out, section, name, value, err, errlen);
		if (rc == ENOENT && (p->flags & SLB_CFG_PARTIAL))
			return 0;
		return rc;
	}
	for (int i = 0; known_sections[i]; i++)
		if (strcmp(section, known_sections[i]) == 0)
			known = 1;
	if (strncmp(section, "node ", 5) == 0 && p->other == NULL)
		known = 1; /* node table sections belong to the scheduler */
	if (known)
		return 0; /* another program's section */
	if (p->other != NULL)
		return p->other(p->arg, section, name, value, err, errlen);
	if (p->flags & SLB_CFG_PARTIAL)
		return 0;
	if (section[0] == '\0')
		snprintf(err, errlen, "%s: key outside any section", name);
	else
		snprintf(err, errlen, "[%s]: unknown section", section);
	return EINVAL;
}

static int
expand_addrs(
    const struct slb_cfg_key *keys, void *out, char *err, size_t errlen)
{
	const char *run_dir = NULL;

	for (const struct slb_cfg_key *k = keys; k->name; k++)
		if (strcmp(k->section, "general") == 0 &&
		    strcmp(k->name, "run_dir") == 0)
			run_dir = (const char *)out + k->off;
	if (run_dir == NULL)
		return 0;
	for (const struct slb_cfg_key *k = keys; k->name; k++) {
		if (k->type != SLB_CFG_ADDR)
			continue;
		if (slb_cfg_expand_addr((char *)out + k->off, run_dir) != 0) {
			snprintf(err, errlen,
			    "[%s] %s: address too long after "
			    "adding run_dir",
			    k->section, k->name);
			return ENAMETOOLONG;
		}
	}
	return 0;
}

int
slb_cfg_expand_addr(char *addr, const char *run_dir)
{
	size_t dlen, nlen;

	if (strncmp(addr, "ipc://", 6) != 0 || addr[6] == '/' ||
	    addr[6] == '\0')
		return 0;
	dlen = strlen(run_dir);
	nlen = strlen(addr + 6);
	/* "ipc://" run_dir "/" name, and its terminator */
	if (6 + dlen + 1 + nlen >= SLB_CFG_STRLEN)
		return ENAMETOOLONG;
	memmove(addr + 6 + dlen + 1, addr + 6, nlen + 1);
	memcpy(addr + 6, run_dir, dlen);
	addr[6 + dlen] = '/';
	return 0;
}

int
slb_cfg_load(const char *path, const struct slb_cfg_key *keys, void *out,
    unsigned flags, slb_cfg_section_h other, void *arg, char *err,
    size_t errlen)
{
	struct cfg_parse p = { .keys = keys,
		.out = out,
		.flags = flags,
		.other = other,
		.arg = arg };
	char e[512];
	int rc;

	for (const struct slb_cfg_key *k = keys; k->name; k++) {
		if (k->def == NULL)
			continue;
		if (set_key(k, out, k->def, e, sizeof(e)) != 0) {
			snprintf(err, errlen, "built-in default: %s", e);
			return EINVAL;
		}
	}
	if (path != NULL) {
		rc = slb_ini_parse(path, on_cfg_line, &p, err, errlen);
		if (rc != 0)
			return rc;
	}
	if (expand_addrs(keys, out, e, sizeof(e)) != 0) {
		snprintf(err, errlen, "%s: %s",
		    path ? path : "built-in default", e);
		return EINVAL;
	}
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
		case 't': o->check_only = 1; break;
		case 'd': o->debug = 1; break;
		case 'V': printf("%s %s\n", prog, SIPLB_VERSION); return 1;
		case 'h':
			printf(
			    "usage: %s [-c FILE] [-t] [-d] %s\n"
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
		o->cfg_path = NULL; /* built-in defaults */
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
