/*
 * libFuzzer target: the replies siplbctl doctor reads from a node it
 * does not trust (services/siplbctl/doctor_sip.c).  The input is one or
 * more datagrams separated by a NUL byte, fed in order to one call, so
 * that a 180 then a 200 then its retransmission walk the clean-up (the
 * CANCEL, ACK and BYE are built from what the replies carry).  A reply
 * taken as an answer must have a code 100..699; anything else aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doctor_sip.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct doc_fuzz_state st = { 0 };
	const char *p = (const char *)data, *end = p + size;

	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		size_t n = nul ? (size_t)(nul - p) : (size_t)(end - p);
		int code = doc_sip_fuzz_feed(&st, p, n);

		if (code != 0 && (code < 100 || code > 699))
			abort();
		p += n + (nul != NULL);
	}
	doc_sip_fuzz_end(&st);
	return 0;
}
