/*
 * The HTTP side of siplb-admin: libmicrohttpd in MHD_USE_EPOLL mode with no
 * thread of its own, driven by the process's one libevent loop: MHD's epoll
 * fd is watched for reading and MHD_run() is called when it is readable or
 * when the timeout MHD_get_timeout() asks for expires.
 *
 * Requests to the other services are blocking req/rep calls of at most
 * ADM_CALL_MS each, made from the handler: the loop waits meanwhile.  That
 * is acceptable for an admin API (a handful of operators and a scraper),
 * and it keeps the code a straight line; nothing time-critical runs in this
 * process.
 */
#define SLB_LOG_MODULE "http"
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "log.h"

struct req_ctx {
	char *body;
	size_t len, cap;
	int too_big;
};

const char *
adm_http_arg(void *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

/* Replace every byte that is not part of a valid UTF-8 sequence by '?'
 * (messages quote what the client sent, and JSON strings must be UTF-8;
 * vsnprintf may also have cut a sequence in two). */
static void
utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		int n = *p < 0x80         ? 0
		    : (*p & 0xe0) == 0xc0 ? 1
		    : (*p & 0xf0) == 0xe0 ? 2
		    : (*p & 0xf8) == 0xf0 ? 3
					  : -1;
		int i;

		for (i = 1; n > 0 && i <= n; i++)
			if ((p[i] & 0xc0) != 0x80)
				break;
		if (n < 0 || i <= n || (n == 1 && *p < 0xc2) ||
		    (n == 2 && *p == 0xe0 && p[1] < 0xa0) ||
		    (n == 2 && *p == 0xed && p[1] >= 0xa0) ||
		    (n == 3 &&
			(*p > 0xf4 || (*p == 0xf0 && p[1] < 0x90) ||
			    (*p == 0xf4 && p[1] >= 0x90)))) {
			*p++ = '?';
			continue;
		}
		p += n + 1;
	}
}

void
adm_reply_error(struct adm_reply *rp, unsigned status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	utf8_clean(msg);
	json_decref(rp->json);
	rp->json = json_pack("{s:s}", "error", msg);
	rp->status = status;
}

/* Constant-time for a given token length: no early exit on the first
 * differing byte, and the length difference is folded in. */
static int
token_ok(const struct adm *a, const char *hdr)
{
	const char *given;
	size_t glen;
	unsigned char diff;

	if (hdr == NULL || strncasecmp(hdr, "Bearer ", 7) != 0)
		return 0;
	given = hdr + 7;
	while (*given == ' ')
		given++;
	glen = strlen(given);
	diff = glen != a->token_len;
	for (size_t i = 0; i < a->token_len; i++)
		diff |= (unsigned char)a->token[i] ^
		    (unsigned char)(i < glen ? given[i] : 0);
	return diff == 0;
}

static enum MHD_Result
send_reply(struct MHD_Connection *c, struct adm_reply *rp)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *buf;
	size_t len;

	if (rp->text != NULL) {
		buf = rp->text;
		len = rp->text_len;
		rp->text = NULL;
	} else {
		if (rp->json == NULL)
			rp->json = json_object();
		buf =
		    json_dumps(rp->json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (buf == NULL)
			return MHD_NO;
		len = strlen(buf);
		/* a trailing newline, for curl users */
		char *nb = realloc(buf, len + 2);

		if (nb == NULL) {
			free(buf);
			return MHD_NO;
		}
		buf = nb;
		buf[len++] = '\n';
		buf[len] = '\0';
	}
	resp =
	    MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(buf);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
	    rp->content_type ? rp->content_type : "application/json");
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (rp->status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    "Bearer realm=\"siplb\"");
	if (rp->allow != NULL)
		MHD_add_response_header(
		    resp, MHD_HTTP_HEADER_ALLOW, rp->allow);
	ret = MHD_queue_response(c, rp->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result
reply_now(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct adm_reply r = { 0 };
	enum MHD_Result ret;

	adm_reply_error(&r, status, "%s", msg);
	ret = send_reply(c, &r);
	json_decref(r.json);
	return ret;
}

static enum MHD_Result
on_access(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct adm *a = cls;
	struct req_ctx *rc = *con_cls;
	struct adm_reply r = { 0 };
	enum MHD_Result ret;
	int public;

	(void)version;
	if (rc == NULL) {
		const char *cl = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

		if ((rc = calloc(1, sizeof(*rc))) == NULL)
			return MHD_NO;
		*con_cls = rc;
		if (cl != NULL &&
		    strtoull(cl, NULL, 10) >
			(unsigned long long)a->cfg.max_body) {
			rc->too_big = 1;
			return reply_now(c, 413, "request body too large");
		}
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (rc->too_big || rc->len + n > (size_t)a->cfg.max_body) {
			rc->too_big = 1;
			return MHD_YES; /* read and drop, answer 413 at the end */
		}
		if (rc->len + n + 1 > rc->cap) {
			size_t cap = (rc->len + n + 1) * 2;
			char *nb = realloc(rc->body, cap);

			if (nb == NULL)
				return MHD_NO;
			rc->body = nb;
			rc->cap = cap;
		}
		memcpy(rc->body + rc->len, upload_data, n);
		rc->len += n;
		rc->body[rc->len] = '\0';
		return MHD_YES;
	}
	if (rc->too_big)
		return reply_now(c, 413, "request body too large");

	public = strcmp(url, "/healthz") == 0 ||
	    (strcmp(url, "/metrics") == 0 && a->cfg.metrics_public);
	if (!public &&
	    !token_ok(a,
		MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION))) {
		slb_log_info(
		    "%s %s: 401 (missing or wrong bearer token)", method, url);
		return reply_now(c, 401,
		    "missing or wrong bearer token "
		    "(Authorization: Bearer TOKEN)");
	}
	adm_api_handle(a, method, url, rc->body, rc->len, c, &r);
	if (r.status == 0)
		r.status = 200;
	slb_log_debug("%s %s: %u", method, url, r.status);
	ret = send_reply(c, &r);
	json_decref(r.json);
	free(r.text);
	return ret;
}

static void
on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req_ctx *rc = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (rc != NULL) {
		free(rc->body);
		free(rc);
	}
	*con_cls = NULL;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	slb_log_warn("libmicrohttpd: %s", msg);
}

/* Run MHD, then re-arm the timer to what MHD wants next (at most 1 s). */
static void
on_http(evutil_socket_t fd, short what, void *arg)
{
	struct adm *a = arg;
	MHD_UNSIGNED_LONG_LONG to;
	struct timeval tv;
	long ms = 1000;

	(void)fd;
	(void)what;
	MHD_run(a->httpd);
	if (MHD_get_timeout(a->httpd, &to) == MHD_YES && to < 1000)
		ms = (long)to;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(a->http_tmr, &tv);
}

/* "ADDR:PORT" or "[V6]:PORT" */
int
adm_http_parse_listen(const char *s, struct sockaddr_storage *ss)
{
	char host[SLB_CFG_STRLEN];
	const char *colon;
	long port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *e = strchr(s, ']');

		if (e == NULL || e[1] != ':')
			return EINVAL;
		hl = (size_t)(e - s - 1);
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		colon = e + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return EINVAL;
		hl = (size_t)(colon - s);
		memcpy(host, s, hl);
		host[hl] = '\0';
	}
	if (slb_parse_long(colon + 1, 1, 65535, &port) != 0)
		return EINVAL;
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) ==
	    1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		return 0;
	}
	if (inet_pton(AF_INET6, host,
		&((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		return 0;
	}
	return EINVAL;
}

int
adm_http_start(struct adm *a)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct timeval now = { 0, 0 };

	if (adm_http_parse_listen(a->cfg.listen, &ss) != 0) {
		slb_log_err("[admin] listen: \"%s\": use ADDR:PORT or "
			    "[V6ADDR]:PORT",
		    a->cfg.listen);
		return SLB_EXIT_CONFIG;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	a->httpd = MHD_start_daemon(flags, 0, NULL, NULL, on_access, a,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, a, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
	    a, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)128, MHD_OPTION_END);
	if (a->httpd == NULL) {
		slb_log_err("cannot listen on http %s (address in use or not "
			    "ours?)",
		    a->cfg.listen);
		return EADDRINUSE;
	}
	info = MHD_get_daemon_info(a->httpd, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL) {
		slb_log_err("libmicrohttpd has no epoll fd");
		return EINVAL;
	}
	a->http_ev = event_new(
	    a->base, info->epoll_fd, EV_READ | EV_PERSIST, on_http, a);
	a->http_tmr = evtimer_new(a->base, on_http, a);
	if (a->http_ev == NULL || a->http_tmr == NULL ||
	    event_add(a->http_ev, NULL) != 0)
		return ENOMEM;
	evtimer_add(a->http_tmr, &now);
	return 0;
}

void
adm_http_stop(struct adm *a)
{
	if (a->http_ev != NULL)
		event_free(a->http_ev);
	if (a->http_tmr != NULL)
		event_free(a->http_tmr);
	a->http_ev = a->http_tmr = NULL;
	if (a->httpd != NULL)
		MHD_stop_daemon(a->httpd);
	a->httpd = NULL;
}
