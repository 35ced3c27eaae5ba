#ifndef SIPLB_SIPLBCTL_DOCTOR_SIP_H
#define SIPLB_SIPLBCTL_DOCTOR_SIP_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* siplbctl doctor's SIP call: one INVITE to a node and its clean-up. */

/* The caller's address the INVITE claims in X-AUTH-IP: TEST-NET-1
 * (RFC 5737), which no sane ACL lists. */
#define DOC_AUTH_IP "192.0.2.77"

struct doc_outcome {
	int code; /* the answer that tells: the first provisional
				 * above 100 or final; 0 = none */
	char reason[64]; /* its reason phrase, printable ASCII */
	bool got_100; /* 100 Trying came (and maybe nothing else) */
	bool bye_unanswered; /* a 2xx hung up, the BYE got no answer */
	bool cancel_unanswered; /* no final answer after our CANCEL */
	int err; /* a transport error (errno), 0 = none */
	char local_ip[INET6_ADDRSTRLEN]; /* where the INVITE came from */
};

/* Send the INVITE to the node at uri from `from` (its port 0: an
 * ephemeral one), wait up to timeout_ms for an answer (again after a
 * CANCEL or BYE) and clean up.  0 with *o filled; an errno with why
 * ("error: ..." or "not checked: ...") when no INVITE could go out. */
int doc_sip_check(const char *uri, const struct sockaddr_storage *from,
    socklen_t flen, int timeout_ms, struct doc_outcome *o, char *why,
    size_t wlen);

/* For the fuzzer (tests/fuzz/fuzz_doctor_reply.c): feed buf as a reply
 * to a call whose INVITE branch is z9hG4bKdocfuzz1, BYE branch
 * z9hG4bKdocfuzz2 and Call-ID fuzz@siplb-doctor, whatever it has
 * received before (*state, zeroed by the caller at first), with nothing
 * sent anywhere.  The code the reply was taken as, or 0 when ignored. */
struct doc_fuzz_state {
	void *call;
};
int
doc_sip_fuzz_feed(struct doc_fuzz_state *state, const char *buf, size_t len);
void doc_sip_fuzz_end(struct doc_fuzz_state *state);

#endif
