#ifndef SIPLB_COMMON_SIPADDR_H
#define SIPLB_COMMON_SIPADDR_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Where a SIP URI points: host, port and transport, read with libosip2's
 * osip_uri_parse (call parser_init() once first).  For the prober (whom
 * to probe) and the edge (where to send).
 */

#define SLB_SIP_HOST_MAX 256
#define SLB_SIP_URI_MAX 1024 /* longer URIs are refused */

struct slb_sip_addr {
	char host[SLB_SIP_HOST_MAX]; /* an IPv6 address without brackets */
	int port; /* 0 when the URI names none */
	bool sips;
	char transport[16]; /* lowercased transport=, "" = none */
};

/* Parse the sip: or sips: URI in uri[0..len) (no NUL needed; leading '<'
 * and spaces are skipped and a '>' ends it, so a name-addr's URI can be
 * passed as it is).  EINVAL for another scheme, no host, a port outside
 * 1..65535, or a URI over SLB_SIP_URI_MAX bytes. */
int slb_sip_addr_parse(const char *uri, size_t len, struct slb_sip_addr *a);
/* The port, or the scheme's default (5060, sips: 5061; RFC 3261 §19.1.2). */
int slb_sip_addr_port(const struct slb_sip_addr *a);
/* "host:port" ("[v6]:port"), then ":transport" when asked and the URI
 * named one.  0, or ENOSPC with buf cut. */
int slb_sip_addr_format(
    const struct slb_sip_addr *a, char *buf, size_t len, bool with_transport);

#endif
