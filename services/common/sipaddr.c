#include "sipaddr.h"

#include <ctype.h>
#include <errno.h>
#include <osipparser2/osip_parser.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cfg.h"

int
slb_sip_addr_parse(const char *uri, size_t len, struct slb_sip_addr *a)
{
	char buf[SLB_SIP_URI_MAX + 1];
	const char *s = uri, *end = uri + len, *gt;
	osip_uri_param_t *tp = NULL;
	osip_uri_t *u = NULL;
	long port = 0;
	int rc = EINVAL;

	memset(a, 0, sizeof(*a));
	while (s < end && (*s == '<' || *s == ' '))
		s++;
	if ((gt = memchr(s, '>', (size_t)(end - s))) != NULL)
		end = gt;
	if ((size_t)(end - s) > SLB_SIP_URI_MAX ||
	    memchr(s, '\0', (size_t)(end - s)) != NULL)
		return EINVAL;
	memcpy(buf, s, (size_t)(end - s));
	buf[end - s] = '\0';
	if (osip_uri_init(&u) != 0)
		return ENOMEM;
	if (osip_uri_parse(u, buf) != 0 || u->scheme == NULL ||
	    u->host == NULL || u->host[0] == '\0' ||
	    strlen(u->host) >= sizeof(a->host))
		goto out;
	if (strcasecmp(u->scheme, "sips") == 0)
		a->sips = true;
	else if (strcasecmp(u->scheme, "sip") != 0)
		goto out;
	if (u->port != NULL && slb_parse_long(u->port, 1, 65535, &port) != 0)
		goto out;
	snprintf(a->host, sizeof(a->host), "%s", u->host);
	a->port = (int)port;
	if (osip_uri_uparam_get_byname(u, "transport", &tp) == 0 &&
	    tp != NULL && tp->gvalue != NULL &&
	    strlen(tp->gvalue) < sizeof(a->transport)) {
		for (size_t i = 0; tp->gvalue[i]; i++)
			a->transport[i] =
			    (char)tolower((unsigned char)tp->gvalue[i]);
	}
	rc = 0;
out:
	osip_uri_free(u);
	return rc;
}

int
slb_sip_addr_port(const struct slb_sip_addr *a)
{
	if (a->port != 0)
		return a->port;
	return a->sips ? 5061 : 5060;
}

int
slb_sip_addr_format(
    const struct slb_sip_addr *a, char *buf, size_t len, bool with_transport)
{
	bool v6 = strchr(a->host, ':') != NULL;
	int w;

	w = snprintf(buf, len, "%s%s%s:%d%s%s", v6 ? "[" : "", a->host,
	    v6 ? "]" : "", slb_sip_addr_port(a),
	    with_transport && a->transport[0] ? ":" : "",
	    with_transport ? a->transport : "");
	return w < 0 || (size_t)w >= len ? ENOSPC : 0;
}
