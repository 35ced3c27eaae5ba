
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "unit.h"

/*
 * Configuration table and INI loader (services/common/cfg.c).  Each test
 * gets a fresh mkdtemp directory for its INI files and a zeroed
 * configuration; error messages are compared whole, file:line included.
 */

struct tcfg {
	/* [general] */
	char run_dir[SLB_CFG_STRLEN];
	char log_level[SLB_CFG_STRLEN];
	int log_syslog;
	/* [scheduler] */
	char name[SLB_CFG_STRLEN];
	char listen[SLB_CFG_STRLEN];
	char publish[SLB_CFG_STRLEN];
	char admin[SLB_CFG_STRLEN];
	char peer[SLB_CFG_STRLEN];
	int workers;
	int sticky;
	char algorithms[SLB_CFG_STRLEN];
};

#define K(sec, key, type, min, max, def, field) \
	{ \
		sec, key, type, min, max, def, offsetof(struct tcfg, field), \
		    "test " key \
	}

static const struct slb_cfg_key keys[] = {
	K("general", "run_dir", SLB_CFG_STR, 0, 0, "/run/siplb", run_dir),
	K("general", "log_level", SLB_CFG_LEVEL, 0, 0, "info", log_level),
	K("general", "log_syslog", SLB_CFG_BOOL, 0, 0, "no", log_syslog),
	K("scheduler", "name", SLB_CFG_STR, 0, 0, "sched", name),
	K("scheduler", "listen", SLB_CFG_ADDR, 0, 0, "ipc://sched.rep",
	    listen),
	K("scheduler", "publish", SLB_CFG_ADDR, 0, 0, "tcp://127.0.0.1:7000",
	    publish),
	K("scheduler", "admin", SLB_CFG_ADDR, 0, 0,
	    "ipc:///var/lib/siplb/admin", admin),
	K("scheduler", "peer", SLB_CFG_ADDR, 0, 0, "inproc://peer", peer),
	K("scheduler", "workers", SLB_CFG_INT, 1, 10, "4", workers),
	K("scheduler", "sticky", SLB_CFG_BOOL, 0, 0, "yes", sticky),
	K("scheduler", "algorithms", SLB_CFG_STR, 0, 0, "rr, random",
	    algorithms),
	{ NULL, NULL, 0, 0, 0, NULL, 0, NULL },
};

struct fixture {
	char dir[64];
	char path[128];
	char err[1024];
	char want[1024];
	struct tcfg cfg;
};

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_common_cfg.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	struct dirent *de;
	char p[512];
	DIR *d;

	d = opendir(f->dir);
	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
			unlink(p);
		}
		closedir(d);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Write `text` to <dir>/<name> and leave its path in f->path. */
static const char *
write_ini(struct fixture *f, const char *name, const char *text)
{
	FILE *fp;

	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, name);
	fp = fopen(f->path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	return f->path;
}

static int
load(struct fixture *f, const char *text, unsigned flags)
{
	const char *path = write_ini(f, "siplb.conf", text);

	f->err[0] = '\0';
	return slb_cfg_load(
	    path, keys, &f->cfg, flags, NULL, NULL, f->err, sizeof(f->err));
}

/* ------------------------------------------------------------ defaults */

static void
test_load_applies_defaults_when_path_is_null(void **state)
{
	struct fixture *f = *state;

	memset(&f->cfg, 0x5a, sizeof(f->cfg));
	assert_int_equal(slb_cfg_load(NULL, keys, &f->cfg, 0, NULL, NULL,
			     f->err, sizeof(f->err)),
	    0);
	assert_string_equal(f->cfg.run_dir, "/run/siplb");
	assert_string_equal(f->cfg.log_level, "info");
	assert_int_equal(f->cfg.log_syslog, 0);
	assert_string_equal(f->cfg.name, "sched");
	/* relative ipc:// defaults land under run_dir too */
	assert_string_equal(f->cfg.listen, "ipc:///run/siplb/sched.rep");
	assert_string_equal(f->cfg.publish, "tcp://127.0.0.1:7000");
	assert_string_equal(f->cfg.admin, "ipc:///var/lib/siplb/admin");
	assert_string_equal(f->cfg.peer, "inproc://peer");
	assert_int_equal(f->cfg.workers, 4);
	assert_int_equal(f->cfg.sticky, 1);
	assert_string_equal(f->cfg.algorithms, "rr, random");
}

static void
test_load_refuses_bad_builtin_default(void **state)
{
	struct fixture *f = *state;
	static const struct slb_cfg_key bad[] = {
		K("scheduler", "workers", SLB_CFG_INT, 1, 10, "0", workers),
		{ NULL, NULL, 0, 0, 0, NULL, 0, NULL },
	};

	assert_int_equal(slb_cfg_load(NULL, bad, &f->cfg, 0, NULL, NULL,
			     f->err, sizeof(f->err)),
	    EINVAL);
	assert_string_equal(f->err,
	    "built-in default: [scheduler] workers: must be 1..10, not \"0\"");
}

/* ------------------------------------------------------------ values */

static void
test_load_parses_every_type(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
			     "; siplb test\n"
			     "[general]\n"
			     "run_dir = /srv/siplb\n"
			     "log_level = debug\n"
			     "log_syslog = YES\n"
			     "\n"
			     "[scheduler]\n"
			     "name = main scheduler\n"
			     "listen = tcp://0.0.0.0:7001\n"
			     "publish = ipc:///tmp/pub\n"
			     "workers = 10\n"
			     "sticky = off\n"
			     "algorithms = least-load, rr\n",
			     0),
	    0);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cfg.run_dir, "/srv/siplb");
	assert_string_equal(f->cfg.log_level, "debug");
	assert_int_equal(f->cfg.log_syslog, 1);
	assert_string_equal(f->cfg.name, "main scheduler");
	assert_string_equal(f->cfg.listen, "tcp://0.0.0.0:7001");
	assert_string_equal(f->cfg.publish, "ipc:///tmp/pub");
	/* untouched keys keep their defaults */
	assert_string_equal(f->cfg.admin, "ipc:///var/lib/siplb/admin");
	assert_int_equal(f->cfg.workers, 10);
	assert_int_equal(f->cfg.sticky, 0);
	assert_string_equal(f->cfg.algorithms, "least-load, rr");
}

static void
test_set_accepts_every_bool_spelling(void **state)
{
	struct fixture *f = *state;
	static const char *yes[] = { "yes", "true", "on", "1", "Yes", "TRUE" };
	static const char *no[] = { "no", "false", "off", "0", "NO", "Off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		f->cfg.sticky = 7;
		assert_int_equal(slb_cfg_set(keys, &f->cfg, "scheduler",
				     "sticky", yes[i], f->err, sizeof(f->err)),
		    0);
		assert_int_equal(f->cfg.sticky, 1);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		f->cfg.sticky = 7;
		assert_int_equal(slb_cfg_set(keys, &f->cfg, "scheduler",
				     "sticky", no[i], f->err, sizeof(f->err)),
		    0);
		assert_int_equal(f->cfg.sticky, 0);
	}
}

static void
test_load_refuses_unknown_owned_key_at_its_line(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
			     "[scheduler]\n"
			     "workers = 2\n"
			     "wokers = 3\n"
			     "sticky = no\n",
			     0),
	    EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:3: [scheduler] wokers: unknown key", f->path);
	assert_string_equal(f->err, f->want);
	assert_non_null(strstr(f->err, ":3:"));
}

static void
test_load_refuses_out_of_range_int_with_range(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
			     "[general]\n"
			     "run_dir = /tmp\n"
			     "[scheduler]\n"
			     "workers = 11\n",
			     0),
	    EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:4: [scheduler] workers: must be 1..10, not \"11\"", f->path);
	assert_string_equal(f->err, f->want);

	assert_int_equal(load(f, "[scheduler]\nworkers = 0\n", 0), EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:2: [scheduler] workers: must be 1..10, not \"0\"", f->path);
	assert_string_equal(f->err, f->want);

	assert_int_equal(load(f, "[scheduler]\nworkers = four\n", 0), EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:2: [scheduler] workers: must be 1..10, not \"four\"", f->path);
	assert_string_equal(f->err, f->want);

	/* both ends of the range are in it */
	assert_int_equal(load(f, "[scheduler]\nworkers = 1\n", 0), 0);
	assert_int_equal(f->cfg.workers, 1);
	assert_int_equal(load(f, "[scheduler]\nworkers = 10\n", 0), 0);
	assert_int_equal(f->cfg.workers, 10);
}

static void
test_load_refuses_bad_bool(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[scheduler]\nsticky = maybe\n", 0), EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:2: [scheduler] sticky: must be yes or no, not \"maybe\"",
	    f->path);
	assert_string_equal(f->err, f->want);
}

static void
test_load_refuses_bad_log_level(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "[general]\nlog_level = loud\n", 0), EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:2: [general] log_level: must be err, warn, notice, info or "
	    "debug, not \"loud\"",
	    f->path);
	assert_string_equal(f->err, f->want);
}

static void
test_load_refuses_unknown_section(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
			     "[general]\n"
			     "run_dir = /tmp\n"
			     "[shceduler]\n"
			     "workers = 2\n",
			     0),
	    EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:4: [shceduler]: unknown section", f->path);
	assert_string_equal(f->err, f->want);
}

static void
test_load_refuses_key_outside_any_section(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f, "workers = 2\n[scheduler]\n", 0), EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:1: workers: key outside any "
	    "section",
	    f->path);
	assert_string_equal(f->err, f->want);
}

static void
test_load_accepts_other_programs_sections(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
			     "[edge]\n"
			     "listen = udp:0.0.0.0:5060\n"
			     "anything = goes here\n"
			     "[prober]\n"
			     "interval = 5\n"
			     "[node 3]\n"
			     "uri = sip:10.0.0.3\n"
			     "[scheduler]\n"
			     "workers = 6\n",
			     0),
	    0);
	assert_string_equal(f->err, "");
	assert_int_equal(f->cfg.workers, 6);
	/* [edge] listen is not [scheduler] listen */
	assert_string_equal(f->cfg.listen, "ipc:///run/siplb/sched.rep");
}

struct other_calls {
	int n;
	char last[256];
};

static int
other_section(void *arg, const char *section, const char *key,
    const char *value, char *err, size_t errlen)
{
	struct other_calls *c = arg;

	c->n++;
	snprintf(c->last, sizeof(c->last), "%s|%s|%s", section, key, value);
	if (strcmp(key, "weight") == 0 && strcmp(value, "heavy") == 0) {
		snprintf(err, errlen, "[%s] weight: not a number", section);
		return EINVAL;
	}
	return 0;
}

static void
test_load_hands_unowned_sections_to_handler(void **state)
{
	struct fixture *f = *state;
	struct other_calls c = { 0 };
	const char *path;

	path = write_ini(f, "nodes.conf",
	    "[edge]\n"
	    "x = 1\n"
	    "[node 3]\n"
	    "uri = sip:10.0.0.3\n");
	assert_int_equal(slb_cfg_load(path, keys, &f->cfg, 0, other_section,
			     &c, f->err, sizeof(f->err)),
	    0);
	/* [edge] belongs to another program, [node 3] to the handler */
	assert_int_equal(c.n, 1);
	assert_string_equal(c.last, "node 3|uri|sip:10.0.0.3");

	memset(&c, 0, sizeof(c));
	path = write_ini(f, "nodes.conf",
	    "[node 3]\n"
	    "uri = sip:10.0.0.3\n"
	    "weight = heavy\n"
	    "weight = 1\n");
	assert_int_equal(slb_cfg_load(path, keys, &f->cfg, 0, other_section,
			     &c, f->err, sizeof(f->err)),
	    EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:3: [node 3] weight: not a "
	    "number",
	    f->path);
	assert_string_equal(f->err, f->want);
	/* only the first error is reported; nothing after it is applied */
	assert_int_equal(c.n, 2);
}

static void
test_partial_ignores_unknown_keys_and_sections(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
			     "[general]\n"
			     "run_dir = /srv\n"
			     "future_key = 1\n"
			     "[scheduler]\n"
			     "wokers = 3\n"
			     "workers = 5\n"
			     "[brand new]\n"
			     "x = y\n",
			     SLB_CFG_PARTIAL),
	    0);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cfg.run_dir, "/srv");
	assert_int_equal(f->cfg.workers, 5);
	assert_string_equal(f->cfg.listen, "ipc:///srv/sched.rep");
}

static void
test_partial_still_refuses_bad_values(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
	    load(f, "[scheduler]\nworkers = 99\n", SLB_CFG_PARTIAL), EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:2: [scheduler] workers: must be 1..10, not \"99\"", f->path);
	assert_string_equal(f->err, f->want);
}

/* ------------------------------------------------------------ addresses */

static void
test_load_expands_relative_ipc_under_run_dir(void **state)
{
	struct fixture *f = *state;
	char text[512];

	snprintf(text, sizeof(text),
	    "[scheduler]\n"
	    "listen = ipc://x\n"
	    "publish = tcp://127.0.0.1:7100\n"
	    "admin = ipc:///abs/admin.sock\n"
	    "peer = inproc://sched\n"
	    "[general]\n"
	    "run_dir = %s\n",
	    f->dir);
	assert_int_equal(load(f, text, 0), 0);
	/* run_dir is read after listen: expansion waits for the whole file */
	snprintf(f->want, sizeof(f->want), "ipc://%s/x", f->dir);
	assert_string_equal(f->cfg.listen, f->want);
	assert_string_equal(f->cfg.publish, "tcp://127.0.0.1:7100");
	assert_string_equal(f->cfg.admin, "ipc:///abs/admin.sock");
	assert_string_equal(f->cfg.peer, "inproc://sched");
}

static void
test_expand_addr_leaves_absolute_and_other_transports(void **state)
{
	char a[SLB_CFG_STRLEN];

	snprintf(a, sizeof(a), "ipc://edge.rep");
	slb_cfg_expand_addr(a, "/run/siplb");
	assert_string_equal(a, "ipc:///run/siplb/edge.rep");

	snprintf(a, sizeof(a), "ipc:///abs");
	slb_cfg_expand_addr(a, "/run/siplb");
	assert_string_equal(a, "ipc:///abs");

	snprintf(a, sizeof(a), "tcp://127.0.0.1:1");
	slb_cfg_expand_addr(a, "/run/siplb");
	assert_string_equal(a, "tcp://127.0.0.1:1");

	snprintf(a, sizeof(a), "inproc://x");
	slb_cfg_expand_addr(a, "/run/siplb");
	assert_string_equal(a, "inproc://x");

	snprintf(a, sizeof(a), "ipc://");
	slb_cfg_expand_addr(a, "/run/siplb");
	assert_string_equal(a, "ipc://");

	snprintf(a, sizeof(a), "%s", "");
	slb_cfg_expand_addr(a, "/run/siplb");
	assert_string_equal(a, "");
}

static void
test_load_refuses_non_address_for_addr_key(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
			     "[scheduler]\n"
			     "listen = /run/siplb/sched.rep\n",
			     0),
	    EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:2: [scheduler] listen: must be an ipc://, tcp:// or inproc:// "
	    "address, not \"/run/siplb/sched.rep\"",
	    f->path);
	assert_string_equal(f->err, f->want);

	assert_int_equal(
	    load(f, "[scheduler]\npublish = udp://1.2.3.4:5\n", 0), EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:2: [scheduler] publish: must be an ipc://, tcp:// or "
	    "inproc:// address, not \"udp://1.2.3.4:5\"",
	    f->path);
	assert_string_equal(f->err, f->want);
}

/* ------------------------------------------------------------ strings */

static void
test_set_refuses_string_of_strlen_bytes(void **state)
{
	struct fixture *f = *state;
	char v[SLB_CFG_STRLEN + 1];

	memset(v, 'n', SLB_CFG_STRLEN);
	v[SLB_CFG_STRLEN] = '\0';
	snprintf(f->cfg.name, sizeof(f->cfg.name), "before");
	assert_int_equal(slb_cfg_set(keys, &f->cfg, "scheduler", "name", v,
			     f->err, sizeof(f->err)),
	    EINVAL);
	assert_string_equal(f->err, "[scheduler] name: longer than 255 bytes");
	assert_string_equal(f->cfg.name, "before");

	memcpy(v, "ipc://", 6);
	assert_int_equal(slb_cfg_set(keys, &f->cfg, "scheduler", "listen", v,
			     f->err, sizeof(f->err)),
	    EINVAL);
	assert_string_equal(
	    f->err, "[scheduler] listen: longer than 255 bytes");
}

static void
test_set_accepts_string_of_strlen_minus_one_bytes(void **state)
{
	struct fixture *f = *state;
	char v[SLB_CFG_STRLEN];

	memset(v, 'n', SLB_CFG_STRLEN - 1);
	v[SLB_CFG_STRLEN - 1] = '\0';
	assert_int_equal(slb_cfg_set(keys, &f->cfg, "scheduler", "name", v,
			     f->err, sizeof(f->err)),
	    0);
	assert_int_equal(strlen(f->cfg.name), SLB_CFG_STRLEN - 1);
	assert_string_equal(f->cfg.name, v);
}

static void
test_set_refuses_unknown_key_with_enoent(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(slb_cfg_set(keys, &f->cfg, "scheduler", "bogus", "1",
			     f->err, sizeof(f->err)),
	    ENOENT);
	assert_string_equal(f->err, "[scheduler] bogus: unknown key");
	/* a key of one section is not a key of another */
	assert_int_equal(slb_cfg_set(keys, &f->cfg, "general", "workers", "1",
			     f->err, sizeof(f->err)),
	    ENOENT);
	assert_string_equal(f->err, "[general] workers: unknown key");
}

/*
 * The loader promises strings up to SLB_CFG_STRLEN - 1 bytes and refuses
 * longer ones as "[section] key: longer than 255 bytes" at their line.
 * Through a file this must hold as it does through slb_cfg_set.
 */
static void
test_load_refuses_too_long_string_at_its_line(void **state)
{
	struct fixture *f = *state;
	char text[1024];
	char v[SLB_CFG_STRLEN + 1];

	memset(v, 'n', SLB_CFG_STRLEN);
	v[SLB_CFG_STRLEN] = '\0';
	snprintf(text, sizeof(text),
	    "[scheduler]\n"
	    "workers = 2\n"
	    "name = %s\n"
	    "sticky = no\n",
	    v);
	assert_int_equal(load(f, text, 0), EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:3: [scheduler] name: longer than 255 bytes", f->path);
	assert_string_equal(f->err, f->want);
}

static void
test_load_accepts_string_of_strlen_minus_one_bytes(void **state)
{
	struct fixture *f = *state;
	char text[1024];
	char v[SLB_CFG_STRLEN];

	memset(v, 'n', SLB_CFG_STRLEN - 1);
	v[SLB_CFG_STRLEN - 1] = '\0';
	snprintf(
	    text, sizeof(text), "[scheduler]\nname = %s\nworkers = 3\n", v);
	assert_int_equal(load(f, text, 0), 0);
	assert_string_equal(f->err, "");
	assert_int_equal(strlen(f->cfg.name), SLB_CFG_STRLEN - 1);
	assert_string_equal(f->cfg.name, v);
	assert_int_equal(f->cfg.workers, 3);
}

/* ------------------------------------------------------------ split */

static void
test_split_trims_and_splits_list(void **state)
{
	char out[4][SLB_CFG_STRLEN];

	assert_int_equal(slb_cfg_split("a, b ,c", ',', out, 4), 3);
	assert_string_equal(out[0], "a");
	assert_string_equal(out[1], "b");
	assert_string_equal(out[2], "c");

	/* empty entries are skipped, not counted */
	assert_int_equal(slb_cfg_split(" , x,,\ty ; z ,", ',', out, 4), 2);
	assert_string_equal(out[0], "x");
	assert_string_equal(out[1], "y ; z");

	assert_int_equal(slb_cfg_split("", ',', out, 4), 0);
	assert_int_equal(slb_cfg_split("   ", ',', out, 4), 0);
	assert_int_equal(slb_cfg_split("vm=100;pstn=500", ';', out, 4), 2);
	assert_string_equal(out[0], "vm=100");
	assert_string_equal(out[1], "pstn=500");
}

static void
test_split_refuses_too_many_entries(void **state)
{
	char out[2][SLB_CFG_STRLEN];

	assert_int_equal(slb_cfg_split("a, b ,c", ',', out, 2), -1);
	assert_int_equal(slb_cfg_split("a, b", ',', out, 2), 2);
	assert_int_equal(slb_cfg_split("a", ',', out, 0), -1);
}

static void
test_split_refuses_too_long_entry(void **state)
{
	char out[2][SLB_CFG_STRLEN];
	char s[SLB_CFG_STRLEN + 8];

	memcpy(s, "a, ", 3);
	memset(s + 3, 'z', SLB_CFG_STRLEN);
	s[3 + SLB_CFG_STRLEN] = '\0';
	assert_int_equal(slb_cfg_split(s, ',', out, 2), -1);
	/* one byte shorter fits, with its terminator */
	s[3 + SLB_CFG_STRLEN - 1] = '\0';
	assert_int_equal(slb_cfg_split(s, ',', out, 2), 2);
	assert_int_equal(strlen(out[1]), SLB_CFG_STRLEN - 1);
}

/* ------------------------------------------------------------ numbers */

static void
test_parse_long_refuses_empty_garbage_overflow_and_range(void **state)
{
	long v = 777;

	assert_int_equal(slb_parse_long("", 0, 100, &v), EINVAL);
	assert_int_equal(slb_parse_long(NULL, 0, 100, &v), EINVAL);
	assert_int_equal(slb_parse_long("12x", 0, 100, &v), EINVAL);
	assert_int_equal(slb_parse_long("x12", 0, 100, &v), EINVAL);
	assert_int_equal(slb_parse_long("1.5", 0, 100, &v), EINVAL);
	assert_int_equal(
	    slb_parse_long("99999999999999999999999", LONG_MIN, LONG_MAX, &v),
	    EINVAL);
	assert_int_equal(
	    slb_parse_long("-99999999999999999999999", LONG_MIN, LONG_MAX, &v),
	    EINVAL);
	assert_int_equal(slb_parse_long("101", 0, 100, &v), ERANGE);
	assert_int_equal(slb_parse_long("-1", 0, 100, &v), ERANGE);
	/* failures leave the output alone */
	assert_int_equal(v, 777);
}

static void
test_parse_long_accepts_range_ends(void **state)
{
	long v = 0;

	assert_int_equal(slb_parse_long("0", 0, 100, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(slb_parse_long("100", 0, 100, &v), 0);
	assert_int_equal(v, 100);
	assert_int_equal(slb_parse_long("-42", -100, 100, &v), 0);
	assert_int_equal(v, -42);
}

/* ------------------------------------------------------------ files */

static void
test_load_reports_missing_file_with_enoent_and_path(void **state)
{
	struct fixture *f = *state;

	snprintf(f->path, sizeof(f->path), "%s/absent.conf", f->dir);
	assert_int_equal(slb_cfg_load(f->path, keys, &f->cfg, 0, NULL, NULL,
			     f->err, sizeof(f->err)),
	    ENOENT);
	snprintf(f->want, sizeof(f->want), "%s: cannot open: %s", f->path,
	    strerror(ENOENT));
	assert_string_equal(f->err, f->want);
}

static void
test_load_reports_line_without_equals_as_syntax_error(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
			     "[scheduler]\n"
			     "workers = 2\n"
			     "sticky\n"
			     "name = x\n",
			     0),
	    EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:3: syntax error (expected [section] or key = value)", f->path);
	assert_string_equal(f->err, f->want);
}

/*
 * inih keeps parsing after an error and returns the first bad line; the
 * message must describe that line, not a later bad key.
 */
static void
test_load_reports_first_error_text_with_its_own_line(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
			     "[general]\n"
			     "run_dir /tmp\n"
			     "[scheduler]\n"
			     "bogus = 1\n",
			     0),
	    EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:2: syntax error (expected [section] or key = value)", f->path);
	assert_string_equal(f->err, f->want);
}

/* ------------------------------------------------------------ long lines */

/* A 255-byte value is legal: it must arrive whole and leave the numbering
 * of the lines after it alone. */
static void
test_load_keeps_line_numbers_after_long_value(void **state)
{
	struct fixture *f = *state;
	char text[1024];
	char v[SLB_CFG_STRLEN];

	memset(v, 'n', SLB_CFG_STRLEN - 1);
	v[SLB_CFG_STRLEN - 1] = '\0';
	snprintf(text, sizeof(text),
	    "[scheduler]\n"
	    "name = %s\n"
	    "wokers = 3\n",
	    v);
	assert_int_equal(load(f, text, 0), EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:3: [scheduler] wokers: unknown key", f->path);
	assert_string_equal(f->err, f->want);
	assert_string_equal(f->cfg.name, v);
}

static void
test_load_accepts_line_of_max_bytes(void **state)
{
	struct fixture *f = *state;
	static char text[SLB_INI_MAX_LINE + 64];
	size_t n;

	/* "name = " plus spaces up to the limit, then the value: the whole
	 * line is exactly SLB_INI_MAX_LINE bytes before its "\n" */
	n = (size_t)snprintf(text, sizeof(text), "[scheduler]\nname = ");
	memset(text + n, ' ', SLB_INI_MAX_LINE - 7 - 3);
	n += SLB_INI_MAX_LINE - 7 - 3;
	snprintf(text + n, sizeof(text) - n, "abc\nworkers = 2\n");
	assert_int_equal(
	    strchr(text + 12, '\n') - (text + 12), SLB_INI_MAX_LINE);
	assert_int_equal(load(f, text, 0), 0);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cfg.name, "abc");
	assert_int_equal(f->cfg.workers, 2);
}

static void
test_load_refuses_too_long_line_at_its_line_and_stops(void **state)
{
	struct fixture *f = *state;
	static char text[SLB_INI_MAX_LINE + 128];
	size_t n;

	n = (size_t)snprintf(text, sizeof(text),
	    "[scheduler]\n"
	    "workers = 2\n"
	    "; ");
	memset(text + n, 'c', SLB_INI_MAX_LINE - 1); /* one byte too many */
	n += SLB_INI_MAX_LINE - 1;
	/* what follows must not be parsed, nor its error reported */
	snprintf(text + n, sizeof(text) - n, "\nworkers = 3\nbogus = 1\n");
	assert_int_equal(load(f, text, 0), EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:3: line too long (max %d bytes)", f->path, SLB_INI_MAX_LINE);
	assert_string_equal(f->err, f->want);
	assert_int_equal(f->cfg.workers, 2);
}

/* ------------------------------------------------------------ first error */

static void
test_load_reports_key_error_before_later_syntax_error(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(load(f,
			     "[scheduler]\n"
			     "bogus = 1\n"
			     "run_dir /tmp\n"
			     "workers = 99\n",
			     0),
	    EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:2: [scheduler] bogus: unknown key", f->path);
	assert_string_equal(f->err, f->want);
}

static void
test_load_stops_at_syntax_error(void **state)
{
	struct fixture *f = *state;
	struct other_calls c = { 0 };
	const char *path;

	path = write_ini(f, "nodes.conf",
	    "[node 3]\n"
	    "uri = sip:10.0.0.3\n"
	    "weight\n"
	    "weight = heavy\n");
	assert_int_equal(slb_cfg_load(path, keys, &f->cfg, 0, other_section,
			     &c, f->err, sizeof(f->err)),
	    EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s:3: syntax error (expected [section] or key = value)", path);
	assert_string_equal(f->err, f->want);
	assert_int_equal(c.n, 1);
}

/* ------------------------------------------------------------ grammar */

static void
test_load_keeps_semicolons_and_equals_in_values(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(
	    load(f,
		"\xEF\xBB\xBF# a BOM, then comments of both kinds\r\n"
		"  ; indented comment\r\n"
		"  [ scheduler ]  \r\n"
		"\t name\t=  a = b ; not a comment  \r\n"
		"algorithms =\r\n"
		"workers=7",
		0),
	    0);
	assert_string_equal(f->err, "");
	assert_string_equal(f->cfg.name, "a = b ; not a comment");
	assert_string_equal(f->cfg.algorithms, "");
	assert_int_equal(f->cfg.workers, 7);
}

static void
test_load_refuses_malformed_lines(void **state)
{
	static const char *bad[] = {
		"[scheduler",
		"[]",
		"[  ]",
		"[scheduler] x",
		"[a]b]",
		"= 3",
		"  = 3",
		"workers",
	};
	struct fixture *f = *state;
	char text[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text),
		    "[scheduler]\nworkers = 2\n%s\n"
		    "workers = 3\n",
		    bad[i]);
		assert_int_equal(load(f, text, 0), EINVAL);
		snprintf(f->want, sizeof(f->want),
		    "%s:3: syntax error (expected [section] or key = value)",
		    f->path);
		if (strcmp(f->err, f->want) != 0)
			fail_msg("\"%s\": got \"%s\"", bad[i], f->err);
	}
}

static void
test_load_refuses_nul_byte(void **state)
{
	struct fixture *f = *state;
	static const char text[] = "[scheduler]\nname = a\0b\nworkers = 3\n";
	FILE *fp;

	snprintf(f->path, sizeof(f->path), "%s/nul.conf", f->dir);
	fp = fopen(f->path, "w");
	assert_non_null(fp);
	assert_int_equal(
	    fwrite(text, 1, sizeof(text) - 1, fp), sizeof(text) - 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(slb_cfg_load(f->path, keys, &f->cfg, 0, NULL, NULL,
			     f->err, sizeof(f->err)),
	    EINVAL);
	snprintf(f->want, sizeof(f->want), "%s:2: NUL byte in line", f->path);
	assert_string_equal(f->err, f->want);
}

static void
test_load_reports_read_error(void **state)
{
	struct fixture *f = *state;

	/* a directory opens for reading but cannot be read */
	assert_int_equal(slb_cfg_load(f->dir, keys, &f->cfg, 0, NULL, NULL,
			     f->err, sizeof(f->err)),
	    EIO);
	snprintf(f->want, sizeof(f->want), "%s:1: read error: %s", f->dir,
	    strerror(EISDIR));
	assert_string_equal(f->err, f->want);
}

struct ini_calls {
	int n;
	char log[1024];
	int fail_at; /* line to refuse, 0: none */
	int quiet; /* refuse without a reason */
};

static int
record_line(void *user, int line, const char *section, const char *key,
    const char *value, char *err, size_t errlen)
{
	struct ini_calls *c = user;
	size_t len = strlen(c->log);

	c->n++;
	snprintf(c->log + len, sizeof(c->log) - len, "%d[%s]%s=%s;", line,
	    section, key ? key : "(null)", value ? value : "(null)");
	if (line == c->fail_at) {
		if (!c->quiet)
			snprintf(
			    err, errlen, "no %s here", key ? key : section);
		return 1;
	}
	return 0;
}

static void
test_ini_parse_calls_handler_for_headers_and_keys(void **state)
{
	struct fixture *f = *state;
	struct ini_calls c = { 0 };
	const char *path;

	path = write_ini(f, "x.ini",
	    "top = 1\n"
	    "\n"
	    "[a]\n"
	    "k = v\n"
	    "# c\n"
	    "[b c]\n"
	    "[a]\n"
	    "k2 =\n");
	assert_int_equal(
	    slb_ini_parse(path, record_line, &c, f->err, sizeof(f->err)), 0);
	assert_int_equal(c.n, 6);
	assert_string_equal(c.log,
	    "1[]top=1;3[a](null)=(null);4[a]k=v;6[b c](null)=(null);"
	    "7[a](null)=(null);8[a]k2=;");
}

static void
test_ini_parse_stops_at_handler_error_with_its_line(void **state)
{
	struct fixture *f = *state;
	struct ini_calls c = { .fail_at = 3 };
	const char *path;

	path = write_ini(f, "x.ini", "[a]\nk = 1\n[b]\nk = 2\n");
	assert_int_equal(
	    slb_ini_parse(path, record_line, &c, f->err, sizeof(f->err)),
	    EINVAL);
	snprintf(f->want, sizeof(f->want), "%s:3: no b here", path);
	assert_string_equal(f->err, f->want);
	assert_int_equal(c.n, 3);

	/* a handler that gives no reason still gets its own line */
	memset(&c, 0, sizeof(c));
	c.fail_at = 2;
	c.quiet = 1;
	assert_int_equal(
	    slb_ini_parse(path, record_line, &c, f->err, sizeof(f->err)),
	    EINVAL);
	snprintf(f->want, sizeof(f->want), "%s:2: refused", path);
	assert_string_equal(f->err, f->want);
	assert_int_equal(c.n, 2);
}

static void
test_ini_parse_reports_missing_file(void **state)
{
	struct fixture *f = *state;
	struct ini_calls c = { 0 };

	snprintf(f->path, sizeof(f->path), "%s/absent.ini", f->dir);
	assert_int_equal(
	    slb_ini_parse(f->path, record_line, &c, f->err, sizeof(f->err)),
	    ENOENT);
	snprintf(f->want, sizeof(f->want), "%s: cannot open: %s", f->path,
	    strerror(ENOENT));
	assert_string_equal(f->err, f->want);
	assert_int_equal(c.n, 0);
}

/* ------------------------------------------------------------ run_dir */

static void
test_expand_addr_refuses_result_that_does_not_fit(void **state)
{
	char a[SLB_CFG_STRLEN], want[SLB_CFG_STRLEN * 2];
	char dir[SLB_CFG_STRLEN];

	/* "ipc://" + dir + "/" + "x" = 255 bytes: fits */
	dir[0] = '/';
	memset(dir + 1, 'd', 246);
	dir[247] = '\0';
	snprintf(a, sizeof(a), "ipc://x");
	assert_int_equal(slb_cfg_expand_addr(a, dir), 0);
	assert_int_equal(strlen(a), SLB_CFG_STRLEN - 1);
	snprintf(want, sizeof(want), "ipc://%s/x", dir);
	assert_string_equal(a, want);

	/* one byte more does not: the address is left as it was */
	snprintf(a, sizeof(a), "ipc://xy");
	assert_int_equal(slb_cfg_expand_addr(a, dir), ENAMETOOLONG);
	assert_string_equal(a, "ipc://xy");

	/* absolute and other addresses never grow */
	snprintf(a, sizeof(a), "ipc:///abs");
	assert_int_equal(slb_cfg_expand_addr(a, dir), 0);
	assert_string_equal(a, "ipc:///abs");
	snprintf(a, sizeof(a), "tcp://1.2.3.4:5");
	assert_int_equal(slb_cfg_expand_addr(a, dir), 0);
	assert_string_equal(a, "tcp://1.2.3.4:5");
}

static void
test_load_refuses_address_too_long_after_run_dir(void **state)
{
	struct fixture *f = *state;
	char text[1024], dir[SLB_CFG_STRLEN];

	dir[0] = '/';
	memset(dir + 1, 'd', 250);
	dir[251] = '\0';
	snprintf(text, sizeof(text),
	    "[general]\n"
	    "run_dir = %s\n"
	    "[scheduler]\n"
	    "listen = tcp://127.0.0.1:1\n"
	    "admin = ipc://admin.sock\n",
	    dir);
	assert_int_equal(load(f, text, 0), EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s: [scheduler] admin: address too long after adding run_dir",
	    f->path);
	assert_string_equal(f->err, f->want);

	/* the built-in "ipc://sched.rep" default is expanded too */
	snprintf(text, sizeof(text), "[general]\nrun_dir = %s\n", dir);
	assert_int_equal(load(f, text, 0), EINVAL);
	snprintf(f->want, sizeof(f->want),
	    "%s: [scheduler] listen: address too long after adding run_dir",
	    f->path);
	assert_string_equal(f->err, f->want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_load_applies_defaults_when_path_is_null),
		T(test_load_refuses_bad_builtin_default),
		T(test_load_parses_every_type),
		T(test_set_accepts_every_bool_spelling),
		T(test_load_refuses_unknown_owned_key_at_its_line),
		T(test_load_refuses_out_of_range_int_with_range),
		T(test_load_refuses_bad_bool),
		T(test_load_refuses_bad_log_level),
		T(test_load_refuses_unknown_section),
		T(test_load_refuses_key_outside_any_section),
		T(test_load_accepts_other_programs_sections),
		T(test_load_hands_unowned_sections_to_handler),
		T(test_partial_ignores_unknown_keys_and_sections),
		T(test_partial_still_refuses_bad_values),
		T(test_load_expands_relative_ipc_under_run_dir),
		T(test_expand_addr_leaves_absolute_and_other_transports),
		T(test_load_refuses_non_address_for_addr_key),
		T(test_set_refuses_string_of_strlen_bytes),
		T(test_set_accepts_string_of_strlen_minus_one_bytes),
		T(test_set_refuses_unknown_key_with_enoent),
		T(test_load_refuses_too_long_string_at_its_line),
		T(test_load_accepts_string_of_strlen_minus_one_bytes),
		T(test_split_trims_and_splits_list),
		T(test_split_refuses_too_many_entries),
		T(test_split_refuses_too_long_entry),
		T(test_parse_long_refuses_empty_garbage_overflow_and_range),
		T(test_parse_long_accepts_range_ends),
		T(test_load_reports_missing_file_with_enoent_and_path),
		T(test_load_reports_line_without_equals_as_syntax_error),
		T(test_load_reports_first_error_text_with_its_own_line),
		T(test_load_keeps_line_numbers_after_long_value),
		T(test_load_accepts_line_of_max_bytes),
		T(test_load_refuses_too_long_line_at_its_line_and_stops),
		T(test_load_reports_key_error_before_later_syntax_error),
		T(test_load_stops_at_syntax_error),
		T(test_load_keeps_semicolons_and_equals_in_values),
		T(test_load_refuses_malformed_lines),
		T(test_load_refuses_nul_byte),
		T(test_load_reports_read_error),
		T(test_ini_parse_calls_handler_for_headers_and_keys),
		T(test_ini_parse_stops_at_handler_error_with_its_line),
		T(test_ini_parse_reports_missing_file),
		T(test_expand_addr_refuses_result_that_does_not_fit),
		T(test_load_refuses_address_too_long_after_run_dir),
#undef T
	};

	return cmocka_run_group_tests_name("common_cfg", tests, NULL, NULL);
}
