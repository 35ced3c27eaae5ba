/*
 * siplb-admin: configuration, the token, and the process's life.
 */
#define SLB_LOG_MODULE "admin"
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "bus.h"
#include "log.h"

#define OFF(f) offsetof(struct adm_cfg, f)

static const struct slb_cfg_key keys[] = {
	SLB_CFG_GENERAL_KEYS(struct adm_cfg),
	{ "admin", "listen", SLB_CFG_STR, 0, 0, "127.0.0.1:8080", OFF(listen),
	    "HTTP address ADDR:PORT ([v6]:PORT); loopback unless configured" },
	{ "admin", "token_file", SLB_CFG_STR, 0, 0, "/etc/siplb/admin.token",
	    OFF(token_file),
	    "file holding the bearer token (required, non-empty; mode 0600)" },
	{ "admin", "metrics_public", SLB_CFG_BOOL, 0, 0, "no",
	    OFF(metrics_public), "yes: /metrics without the token" },
	{ "admin", "schedulers", SLB_CFG_STR, 0, 0, SLB_ADDR_SCHEDULER_REP,
	    OFF(schedulers),
	    "every scheduler replica's REP, comma-separated: changes go to each, "
	    "reads to the first that answers" },
	{ "admin", "dialogd", SLB_CFG_ADDR, 0, 0, SLB_ADDR_DIALOGD_REP,
	    OFF(dialogd), "dialogd REP (dialog queries)" },
	{ "admin", "edges", SLB_CFG_STR, 0, 0, SLB_ADDR_EDGE_REP, OFF(edges),
	    "every edge's REP, comma-separated (statistics, health)" },
	{ "admin", "max_body", SLB_CFG_INT, 64, 16777216, "65536",
	    OFF(max_body),
	    "largest request body accepted (bytes); more gets 413" },
	{ NULL, NULL, 0, 0, 0, NULL, 0, NULL },
};

static int
split_peers(const char *key, const char *list, const char *run_dir,
    char (*out)[SLB_CFG_STRLEN], int *np)
{
	int n = slb_cfg_split(list, ',', out, ADM_MAX_PEERS);

	if (n < 0) {
		slb_log_err("[admin] %s: at most %d addresses of at most %d "
			    "bytes",
		    key, ADM_MAX_PEERS, SLB_CFG_STRLEN - 1);
		return EINVAL;
	}
	for (int i = 0; i < n; i++) {
		if (slb_cfg_expand_addr(out[i], run_dir) != 0) {
			slb_log_err(
			    "[admin] %s: \"%s\": too long after adding "
			    "run_dir",
			    key, out[i]);
			return EINVAL;
		}
	}
	*np = n;
	return 0;
}

int
adm_cfg_load(struct adm *a, const char *path)
{
	char err[1024];

	if (slb_cfg_load(
		path, keys, &a->cfg, 0, NULL, NULL, err, sizeof(err)) != 0) {
		slb_log_err("%s", err);
		return EINVAL;
	}
	slb_log_configure(
	    a->cfg.log_level, a->cfg.log_facility, a->cfg.log_syslog);
	if (split_peers("schedulers", a->cfg.schedulers, a->cfg.run_dir,
		a->sched, &a->nsched) != 0 ||
	    split_peers("edges", a->cfg.edges, a->cfg.run_dir, a->edge,
		&a->nedge) != 0)
		return EINVAL;
	{
		struct sockaddr_storage ss;

		if (adm_http_parse_listen(a->cfg.listen, &ss) != 0) {
			slb_log_err("[admin] listen: \"%s\": use ADDR:PORT or "
				    "[V6ADDR]:PORT",
			    a->cfg.listen);
			return EINVAL;
		}
	}
	if (a->nsched == 0) {
		slb_log_err("[admin] schedulers: give at least one address");
		return EINVAL;
	}
	return 0;
}

/* The token: the file's first line without surrounding whitespace. */
static int
load_token(struct adm *a)
{
	const char *path = a->cfg.token_file;
	ssize_t n;
	size_t b = 0, e;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		slb_log_err(
		    "[admin] token_file %s: cannot read: %s; "
		    "siplb-admin does not start without a token (write one, "
		    "mode 0600)",
		    path, strerror(errno));
		return SLB_EXIT_CONFIG;
	}
	n = read(fd, a->token, sizeof(a->token) - 1);
	close(fd);
	if (n < 0) {
		slb_log_err("[admin] token_file %s: cannot read: %s", path,
		    strerror(errno));
		return SLB_EXIT_CONFIG;
	}
	a->token[n] = '\0';
	e = strcspn(a->token, "\r\n");
	while (e > 0 && (a->token[e - 1] == ' ' || a->token[e - 1] == '\t'))
		e--;
	while (b < e && (a->token[b] == ' ' || a->token[b] == '\t'))
		b++;
	memmove(a->token, a->token + b, e - b);
	a->token_len = e - b;
	a->token[a->token_len] = '\0';
	if (a->token_len == 0) {
		slb_log_err(
		    "[admin] token_file %s: empty; siplb-admin does not "
		    "start without a token",
		    path);
		return SLB_EXIT_CONFIG;
	}
	return 0;
}

int
adm_init(struct adm *a)
{
	int rc;

	if ((rc = load_token(a)) != 0)
		return rc;
	if ((rc = slb_loop_new(&a->base)) != 0)
		return rc;
	if ((rc = adm_http_start(a)) != 0)
		return rc;
	slb_log_notice("ready: http %s, %d scheduler(s), %d edge(s), "
		       "dialogd %s",
	    a->cfg.listen, a->nsched, a->nedge,
	    a->cfg.dialogd[0] ? a->cfg.dialogd : "none");
	return 0;
}

void
adm_close(struct adm *a)
{
	adm_http_stop(a);
	if (a->base != NULL)
		slb_loop_free(a->base);
	a->base = NULL;
	memset(a->token, 0, sizeof(a->token));
}
