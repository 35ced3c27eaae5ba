#ifndef SIPLB_COMMON_CFG_H
#define SIPLB_COMMON_CFG_H

#include <stddef.h>

/*
 * One INI file, one section per service, parsed through a table per program
 * ({section, key, type, min, max, default, offset, doc}, as Redis does).
 * Unknown keys in a section the program owns and bad values are refused as
 * `file:line: [section] key: why`; sections owned by other programs are left
 * to them; unknown section names are refused.
 */

#define SLB_EXIT_FAIL 1
#define SLB_EXIT_USAGE 64
#define SLB_EXIT_CONFIG 78

#define SLB_CFG_STRLEN 256
#define SLB_DEFAULT_CONF "/etc/siplb/siplb.conf"

enum slb_cfg_type {
	SLB_CFG_STR, /* char[SLB_CFG_STRLEN] */
	SLB_CFG_ADDR, /* char[SLB_CFG_STRLEN]; relative ipc:// under run_dir */
	SLB_CFG_INT, /* int, min..max */
	SLB_CFG_BOOL, /* int 0/1: yes no true false on off 1 0 */
	SLB_CFG_LEVEL, /* char[]: err warn notice info debug */
	SLB_CFG_FACILITY, /* char[]: local0..local7 daemon user */
};

struct slb_cfg_key {
	const char *section;
	const char *name;
	enum slb_cfg_type type;
	long min, max;
	const char *def;
	size_t off;
	const char *doc;
};

/* The [general] keys every service reads, for a config struct T with the
 * members run_dir, log_level, log_facility (char[SLB_CFG_STRLEN]) and
 * log_syslog (int): put SLB_CFG_GENERAL_KEYS(T) first in its table.
 * (Kept as written: tests/integration/man_keys.py reads the entries.) */
/* clang-format off */
#define SLB_CFG_GENERAL_KEYS(T)                                             \
	{"general", "run_dir", SLB_CFG_STR, 0, 0, "/run/siplb",             \
	    offsetof(T, run_dir),                                           \
	    "folder for ipc:// sockets; relative ipc:// addresses go here"}, \
	{"general", "log_level", SLB_CFG_LEVEL, 0, 0, "info",               \
	    offsetof(T, log_level), "err, warn, notice, info or debug"},    \
	{"general", "log_facility", SLB_CFG_FACILITY, 0, 0, "local0",       \
	    offsetof(T, log_facility),                                      \
	    "syslog facility when log_syslog = yes"},                       \
	{"general", "log_syslog", SLB_CFG_BOOL, 0, 0, "no",                 \
	    offsetof(T, log_syslog), "log to syslog instead of stderr"}
/* clang-format on */

/* Called for a section the table does not name, such as "[node 3]"; returns
 * 0 or an errno value, writing why into err. */
typedef int (*slb_cfg_section_h)(void *arg, const char *section,
    const char *key, const char *value, char *err, size_t errlen);

/* Ignore keys and sections the table does not know (clients such as
 * siplbctl that read only the addresses they dial). */
#define SLB_CFG_PARTIAL 0x1

/* Fill `out` with the table's defaults, then read `path` (NULL: defaults
 * only) with slb_ini_parse.  Returns 0, or ENOENT (cannot open), EIO (read
 * error) or EINVAL with the reason in err. */
int slb_cfg_load(const char *path, const struct slb_cfg_key *keys, void *out,
    unsigned flags, slb_cfg_section_h other, void *arg, char *err,
    size_t errlen);

/*
 * The INI reader behind slb_cfg_load and the node-table file.  It is ours
 * rather than libinih's (Debian 12's libinih 55 does set its line limit
 * and its stop on the first error at run time, through ini_max_line and
 * ini_stop_on_first_error) because inih's handler gets no line number
 * (INI_HANDLER_LINENO is a build option and Debian's library calls the
 * four-argument handler) and has nowhere to say why it refused a key, so
 * errors could not read "file:line: [section] key: why"; because it does
 * not call the handler on a section header (INI_CALL_HANDLER_ON_NEW_SECTION
 * is build-time and off), which a node file's "[node ID]" needs to be
 * checked where it stands; and because an over-long line must be refused
 * with its line number.  A line is blank, a
 * comment starting with ';' or '#', "[section]", or "key = value"; the key,
 * the value and the section name are trimmed of whitespace, the value may
 * be empty and runs to the end of the line (no inline comments, no
 * continuation lines).  A UTF-8 BOM before the first line is skipped.
 * Lines longer than SLB_INI_MAX_LINE bytes (not counting the '\n') are
 * refused.
 *
 * The handler is called with the 1-based line number for each section
 * header (key and value NULL) and each key (section "" before the first
 * header); it returns 0, or nonzero after writing why into err.  Parsing
 * stops at the first error, reported as "path:LINE: why".  Returns 0;
 * ENOENT when the file cannot be opened ("path: cannot open: why"); EIO on
 * a read error; EINVAL for a syntax error, an over-long line or a handler
 * refusal.
 */
#define SLB_INI_MAX_LINE 4096

typedef int (*slb_ini_handler)(void *user, int line, const char *section,
    const char *key, const char *value, char *err, size_t errlen);

int slb_ini_parse(const char *path, slb_ini_handler handler, void *user,
    char *err, size_t errlen);

/* Set one key by name as the parser would ("section", "key", "value"). */
int slb_cfg_set(const struct slb_cfg_key *keys, void *out, const char *section,
    const char *name, const char *value, char *err, size_t errlen);

/* Parse an "a, b ,c" list into at most max entries of len bytes each;
 * returns the count or -1 when an entry is too long or there are too many. */
int
slb_cfg_split(const char *s, char sep, char (*out)[SLB_CFG_STRLEN], int max);

/* Turn a relative "ipc://name" (SLB_CFG_STRLEN buffer) into
 * "ipc://<run_dir>/name"; other addresses are left alone.  Returns 0, or
 * ENAMETOOLONG (addr untouched) when the result would not fit. */
int slb_cfg_expand_addr(char *addr, const char *run_dir);

/* Parse a whole decimal number within min..max. */
int slb_parse_long(const char *s, long min, long max, long *out);

/* Print the documented table as README-ready text. */
void slb_cfg_dump_doc(const struct slb_cfg_key *keys);

struct slb_opts {
	const char *cfg_path; /* -c, $SIPLB_CONF, or the default */
	int cfg_given; /* 0: the default path, may be absent */
	int check_only; /* -t */
	int debug; /* -d */
	int argc; /* what is left after the options */
	char **argv;
};

/* Parse -c FILE, -t, -d, -h, -V.  Returns 0, or -1 after printing usage
 * (the caller exits 64), or 1 when -h/-V already printed (exit 0). */
int slb_opts_parse(struct slb_opts *o, int argc, char **argv, const char *prog,
    const char *usage);

/* `configuration OK` and exit code 0, for -t. */
int slb_cfg_report_ok(const char *path);

#endif
