
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipmsg.h"
#include "unit.h"

/*
 * The raw SIP index (services/common/sipmsg.c): start line, header lines,
 * values, body offset, list elements, parameters and stream framing, on
 * real messages from RFC 3261 §24 and the RFC 4475 torture tests.  The
 * fuzz tests are seeded (FUZZ_SEED) so a crash replays exactly; each
 * fuzzed buffer sits at the very end of a heap block so ASan catches any
 * read past it.
 */

#define FUZZ_SEED 0x51b5eedc0ffeeULL
#define FUZZ_ROUNDS 200000
#define FUZZ_MAXLEN 512
#define MUTATE_ROUNDS 100000
#define MUTATE_MAXLEN 2048

/* What a test allocated, freed in teardown even when an assert fails. */
struct fixture {
	struct slb_sipscan s;
	char *buf;
	char *orig;
};

UNIT_CALLOC_SETUP(setup, struct fixture)

static int
teardown(void **state)
{
	struct fixture *f = *state;

	free(f->buf);
	free(f->orig);
	free(f);
	return 0;
}

/* splitmix64: the same stream on every libc. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ---------------------------------------------------------- messages */

/* RFC 3261 §24.2 F1, with a 151-byte SDP body. */
#define SDP \
	"v=0\r\n" \
	"o=alice 2890844526 2890844526 IN IP4 client.atlanta.example.com\r\n" \
	"s=-\r\n" \
	"c=IN IP4 192.0.2.101\r\n" \
	"t=0 0\r\n" \
	"m=audio 49172 RTP/AVP 0\r\n" \
	"a=rtpmap:0 PCMU/8000\r\n"

#define L_REQ "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n"
#define L_VIA \
	"Via: SIP/2.0/UDP client.atlanta.example.com:5060" \
	";branch=z9hG4bK74bf9\r\n"
#define L_MF "Max-Forwards: 70\r\n"
#define L_FROM "From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n"
#define L_TO "To: Bob <sip:bob@biloxi.example.com>\r\n"
#define L_CID "Call-ID: 3848276298220188511@atlanta.example.com\r\n"
#define L_CSEQ "CSeq: 1 INVITE\r\n"
#define L_CONTACT \
	"Contact: <sip:alice@client.atlanta.example.com;transport=udp>\r\n"
#define L_CT "Content-Type: application/sdp\r\n"
#define L_CL "Content-Length: 151\r\n"

#define INVITE_HDRS \
	L_REQ L_VIA L_MF L_FROM L_TO L_CID L_CSEQ L_CONTACT L_CT L_CL "\r\n"
#define INVITE INVITE_HDRS SDP

/* RFC 3261 §24.2 F4: a response with no body. */
#define RINGING \
	"SIP/2.0 180 Ringing\r\n" \
	"Via: SIP/2.0/UDP client.atlanta.example.com:5060" \
	";branch=z9hG4bK74bf9;received=192.0.2.101\r\n" \
	"From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n" \
	"To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n" \
	"Call-ID: 3848276298220188511@atlanta.example.com\r\n" \
	"CSeq: 1 INVITE\r\n" \
	"Content-Length: 0\r\n" \
	"\r\n"

/* RFC 4475 §3.1.1.1 "wsinv": short tortuous INVITE, folded everywhere. */
#define W_REQ \
	"INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"
#define W_TO \
	"TO :\r\n" \
	" sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\r\n"
#define W_FROM \
	"from   : \"J Rosenberg \\\\\\\"\"       " \
	"<sip:jdrosen@example.com>\r\n" \
	"  ;\r\n" \
	"  tag = 98asjd8\r\n"
#define W_MF "MaX-fOrWaRdS: 0068\r\n"
#define W_CID "Call-ID: wsinv.ndaksdj@192.0.2.1\r\n"
#define W_CL "Content-Length   : 150\r\n"
#define W_CSEQ "cseq: 0009\r\n  INVITE\r\n"
#define W_VIA \
	"Via  : SIP  /   2.0\r\n" \
	" /UDP\r\n" \
	"    192.0.2.2;branch=390skdjuw\r\n"
#define W_S "s :\r\n"
#define W_NEW \
	"NewFangledHeader:   newfangled value\r\n" \
	" continued newfangled value\r\n"
#define W_UNK "UnknownHeaderWithUnusualValue: ;;,,;;,;\r\n"
#define W_CT "Content-Type: application/sdp\r\n"
#define W_ROUTE \
	"Route:\r\n" \
	" <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\r\n"
#define W_V \
	"v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n" \
	"  branch  =   z9hG4bK9ikj8  ,\r\n" \
	" SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n" \
	" z9hG4bK30239\r\n"
#define W_M \
	"m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com>" \
	" ; newparam =\r\n" \
	"      newvalue ;\r\n" \
	"  secondparam ; q = 0.33\r\n"
#define W_SDP \
	"v=0\r\n" \
	"o=mhandley 29739 7272939 IN IP4 192.0.2.3\r\n" \
	"s=-\r\n" \
	"c=IN IP4 192.0.2.4\r\n" \
	"t=0 0\r\n" \
	"m=audio 49217 RTP/AVP 0 12\r\n" \
	"m=video 3227 RTP/AVP 31\r\n" \
	"a=rtpmap:31 LPC\r\n"
#define WSINV \
	W_REQ W_TO W_FROM W_MF W_CID W_CL W_CSEQ W_VIA W_S W_NEW W_UNK W_CT \
	    W_ROUTE W_V W_M "\r\n" W_SDP

/* ----------------------------------------------------------- helpers */

/* One header line as the scanner should index it. */
struct want {
	enum slb_sip_hdr_type type;
	const char *line; /* the whole line, folds and CRLF included */
	const char *name;
	const char *value; /* trimmed */
};

/* Every header of buf, in order, right after the start line and up to the
 * empty line: type, offsets and lengths all exact. */
static void
check_hdrs(
    const char *buf, const struct slb_sipscan *s, const struct want *w, int n)
{
	uint32_t off = s->line_len;

	assert_int_equal(s->nhdrs, n);
	for (int i = 0; i < n; i++) {
		const struct slb_sip_hdr *h = &s->h[i];
		const char *colon = strchr(w[i].line, ':');
		const char *val = strstr(colon + 1, w[i].value);

		assert_non_null(val);
		assert_int_equal(h->type, w[i].type);
		assert_int_equal(h->off, off);
		assert_int_equal(h->len, strlen(w[i].line));
		assert_memory_equal(buf + h->off, w[i].line, h->len);
		assert_int_equal(h->noff, off);
		assert_int_equal(h->nlen, strlen(w[i].name));
		assert_memory_equal(buf + h->noff, w[i].name, h->nlen);
		assert_int_equal(h->voff, off + (uint32_t)(val - w[i].line));
		assert_int_equal(h->vlen, strlen(w[i].value));
		assert_memory_equal(buf + h->voff, w[i].value, h->vlen);
		off += h->len;
	}
	assert_int_equal(s->hdrs_end, off);
}

/* A header's value as a C string, for compact asserts. */
static const char *
value_of(const char *buf, const struct slb_sip_hdr *h)
{
	static char v[512];

	assert_non_null(h);
	assert_true(h->vlen < sizeof(v));
	memcpy(v, buf + h->voff, h->vlen);
	v[h->vlen] = '\0';
	return v;
}

/* What param_of gives for ENOENT: not a possible value. */
#define NOPARAM "(ENOENT)"

/* slb_sip_param into a C string; NOPARAM for ENOENT. */
static const char *
param_of(const char *v, size_t len, const char *name)
{
	static char out[256];
	const char *val = NULL;
	size_t vlen = 12345;
	int rc = slb_sip_param(v, len, name, &val, &vlen);

	if (rc == ENOENT)
		return NOPARAM;
	assert_int_equal(rc, 0);
	assert_non_null(val);
	assert_true(val >= v && vlen <= len && val + vlen <= v + len);
	assert_true(vlen < sizeof(out));
	memcpy(out, val, vlen);
	out[vlen] = '\0';
	return out;
}

static const char *
param_str(const char *v, const char *name)
{
	return param_of(v, strlen(v), name);
}

/* A heap copy of exactly len bytes, so ASan sees reads past the end. */
static char *
dup_exact(const char *p, size_t len)
{
	char *b = malloc(len ? len : 1);

	assert_non_null(b);
	memcpy(b, p, len);
	return b;
}

/* ------------------------------------------------------ slb_sip_scan */

static void
test_scan_indexes_every_header_of_an_invite(void **state)
{
	struct fixture *f = *state;
	const char *m = INVITE;
	static const struct want w[] = {
		{ SLB_H_VIA, L_VIA, "Via",
		    "SIP/2.0/UDP client.atlanta.example.com:5060"
		    ";branch=z9hG4bK74bf9" },
		{ SLB_H_MAX_FORWARDS, L_MF, "Max-Forwards", "70" },
		{ SLB_H_FROM, L_FROM, "From",
		    "Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl" },
		{ SLB_H_TO, L_TO, "To", "Bob <sip:bob@biloxi.example.com>" },
		{ SLB_H_CALL_ID, L_CID, "Call-ID",
		    "3848276298220188511@atlanta.example.com" },
		{ SLB_H_CSEQ, L_CSEQ, "CSeq", "1 INVITE" },
		{ SLB_H_CONTACT, L_CONTACT, "Contact",
		    "<sip:alice@client.atlanta.example.com;transport=udp>" },
		{ SLB_H_OTHER, L_CT, "Content-Type", "application/sdp" },
		{ SLB_H_CONTENT_LENGTH, L_CL, "Content-Length", "151" },
	};

	assert_int_equal(strlen(SDP), 151);
	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	assert_int_equal(f->s.line_len, strlen(L_REQ));
	check_hdrs(m, &f->s, w, 9);
	assert_int_equal(f->s.hdrs_end, strlen(INVITE_HDRS) - 2);
	assert_int_equal(f->s.body_off, strlen(INVITE_HDRS));
	assert_memory_equal(m + f->s.body_off, SDP, 151);
}

static void
test_scan_indexes_a_response_with_no_body(void **state)
{
	struct fixture *f = *state;
	const char *m = RINGING;

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	assert_int_equal(f->s.line_len, strlen("SIP/2.0 180 Ringing\r\n"));
	assert_int_equal(f->s.nhdrs, 6);
	assert_int_equal(f->s.h[0].type, SLB_H_VIA);
	assert_int_equal(f->s.h[5].type, SLB_H_CONTENT_LENGTH);
	assert_string_equal(value_of(m, &f->s.h[5]), "0");
	/* nothing after the empty line */
	assert_int_equal(f->s.body_off, strlen(m));
	assert_int_equal(f->s.hdrs_end, strlen(m) - 2);
}

static void
test_compact_header_names_have_their_full_types(void **state)
{
	struct fixture *f = *state;
	/* RFC 3261 §7.3.3 compact forms, lower and upper case */
	const char *m =
	    "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
	    "v: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n"
	    "f: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n"
	    "t: Bob <sip:bob@biloxi.com>\r\n"
	    "i: a84b4c76e66710@pc33.atlanta.com\r\n"
	    "m: <sip:alice@pc33.atlanta.com>\r\n"
	    "l: 0\r\n"
	    "V: SIP/2.0/UDP p2.atlanta.com;branch=z9hG4bK2\r\n"
	    "F: <sip:x@y>\r\n"
	    "T: <sip:y@z>\r\n"
	    "I: 1@h\r\n"
	    "M: *\r\n"
	    "L: 0\r\n"
	    /* compact names of headers the index does not know */
	    "s: Lunch\r\n"
	    "k: 100rel\r\n"
	    "c: application/sdp\r\n"
	    "e: gzip\r\n"
	    "\r\n";
	static const enum slb_sip_hdr_type want[] = {
		SLB_H_VIA,
		SLB_H_FROM,
		SLB_H_TO,
		SLB_H_CALL_ID,
		SLB_H_CONTACT,
		SLB_H_CONTENT_LENGTH,
		SLB_H_VIA,
		SLB_H_FROM,
		SLB_H_TO,
		SLB_H_CALL_ID,
		SLB_H_CONTACT,
		SLB_H_CONTENT_LENGTH,
		SLB_H_OTHER,
		SLB_H_OTHER,
		SLB_H_OTHER,
		SLB_H_OTHER,
	};

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	assert_int_equal(f->s.nhdrs, 16);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(f->s.h[i].type, want[i]);
		assert_int_equal(f->s.h[i].nlen, 1);
	}
	assert_string_equal(value_of(m, &f->s.h[0]),
	    "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8");
	assert_string_equal(
	    value_of(m, &f->s.h[3]), "a84b4c76e66710@pc33.atlanta.com");
	assert_string_equal(value_of(m, &f->s.h[10]), "*");
}

static void
test_header_names_are_case_insensitive(void **state)
{
	struct fixture *f = *state;
	const char *m = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			"VIA: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
			"call-ID: abc@a.example.com\r\n"
			"ROUTE: <sip:p1.example.com;lr>\r\n"
			"record-route: <sip:p2.example.com;lr>\r\n"
			"MAX-FORWARDS: 69\r\n"
			"fRoM: <sip:a@a.example.com>;tag=1\r\n"
			"tO: <sip:b@b.example.com>\r\n"
			"CSEQ: 2 INVITE\r\n"
			"content-LENGTH: 0\r\n"
			"CONTACT: <sip:a@192.0.2.1>\r\n"
			"PATH: <sip:edge.example.com;lr>\r\n"
			"\r\n";
	static const enum slb_sip_hdr_type want[] = {
		SLB_H_VIA,
		SLB_H_CALL_ID,
		SLB_H_ROUTE,
		SLB_H_RECORD_ROUTE,
		SLB_H_MAX_FORWARDS,
		SLB_H_FROM,
		SLB_H_TO,
		SLB_H_CSEQ,
		SLB_H_CONTENT_LENGTH,
		SLB_H_CONTACT,
		SLB_H_PATH,
	};

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	assert_int_equal(f->s.nhdrs, 11);
	for (int i = 0; i < 11; i++)
		assert_int_equal(f->s.h[i].type, want[i]);
	assert_string_equal(value_of(m, &f->s.h[1]), "abc@a.example.com");
	assert_string_equal(value_of(m, &f->s.h[4]), "69");
}

static void
test_names_that_only_look_like_known_headers_are_other(void **state)
{
	struct fixture *f = *state;
	const char *m = "OPTIONS sip:a@b SIP/2.0\r\n"
			"Vi: x\r\n"
			"Viaa: x\r\n"
			"Via-Foo: x\r\n"
			"Routes: x\r\n"
			"Record: x\r\n"
			"Content-Lengt: x\r\n"
			"Too: x\r\n"
			"X-Via: x\r\n"
			"Paths: x\r\n"
			"Subject: x\r\n"
			"\r\n";

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	assert_int_equal(f->s.nhdrs, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(f->s.h[i].type, SLB_H_OTHER);
}

static void
test_folded_header_belongs_to_previous_line(void **state)
{
	struct fixture *f = *state;
	/* RFC 3261 §7.3.1: continuation lines start with SP or HTAB */
	const char *m = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			"Subject: I know you're there,\r\n"
			"         pick up the phone\r\n"
			"\t and talk to me!\r\n"
			"Via: SIP/2.0/UDP a.example.com\r\n"
			" ;branch=z9hG4bK77\r\n"
			"Content-Length: 0\r\n"
			"\r\n";
	static const struct want w[] = {
		{ SLB_H_OTHER,
		    "Subject: I know you're there,\r\n"
		    "         pick up the phone\r\n"
		    "\t and talk to me!\r\n",
		    "Subject",
		    "I know you're there,\r\n"
		    "         pick up the phone\r\n"
		    "\t and talk to me!" },
		{ SLB_H_VIA,
		    "Via: SIP/2.0/UDP a.example.com\r\n"
		    " ;branch=z9hG4bK77\r\n",
		    "Via", "SIP/2.0/UDP a.example.com\r\n ;branch=z9hG4bK77" },
		{ SLB_H_CONTENT_LENGTH, "Content-Length: 0\r\n",
		    "Content-Length", "0" },
	};

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	check_hdrs(m, &f->s, w, 3);
	assert_int_equal(f->s.body_off, strlen(m));
}

static void
test_value_starting_on_a_continuation_line_is_trimmed(void **state)
{
	struct fixture *f = *state;
	/* RFC 3261 §7.3.1: LWS after the colon may hold a line fold */
	const char *m = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			"Route:\r\n"
			" <sip:p1.example.com;lr>\r\n"
			"Content-Length: \r\n"
			"\t 0\r\n"
			"\r\n";
	static const struct want w[] = {
		{ SLB_H_ROUTE, "Route:\r\n <sip:p1.example.com;lr>\r\n",
		    "Route", "<sip:p1.example.com;lr>" },
		{ SLB_H_CONTENT_LENGTH, "Content-Length: \r\n\t 0\r\n",
		    "Content-Length", "0" },
	};

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	check_hdrs(m, &f->s, w, 2);
}

static void
test_torture_wsinv_is_indexed_exactly(void **state)
{
	struct fixture *f = *state;
	const char *m = WSINV;
	static const struct want w[] = {
		{ SLB_H_TO, W_TO, "TO",
		    "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n" },
		{ SLB_H_FROM, W_FROM, "from",
		    "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n"
		    "  ;\r\n"
		    "  tag = 98asjd8" },
		{ SLB_H_MAX_FORWARDS, W_MF, "MaX-fOrWaRdS", "0068" },
		{ SLB_H_CALL_ID, W_CID, "Call-ID", "wsinv.ndaksdj@192.0.2.1" },
		{ SLB_H_CONTENT_LENGTH, W_CL, "Content-Length", "150" },
		{ SLB_H_CSEQ, W_CSEQ, "cseq", "0009\r\n  INVITE" },
		{ SLB_H_VIA, W_VIA, "Via",
		    "SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw" },
		{ SLB_H_OTHER, W_S, "s", "" },
		{ SLB_H_OTHER, W_NEW, "NewFangledHeader",
		    "newfangled value\r\n continued newfangled value" },
		{ SLB_H_OTHER, W_UNK, "UnknownHeaderWithUnusualValue",
		    ";;,,;;,;" },
		{ SLB_H_OTHER, W_CT, "Content-Type", "application/sdp" },
		{ SLB_H_ROUTE, W_ROUTE, "Route",
		    "<sip:services.example.com;lr;unknownwith=value;"
		    "unknown-no-value>" },
		{ SLB_H_VIA, W_V, "v",
		    "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n"
		    "  branch  =   z9hG4bK9ikj8  ,\r\n"
		    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n"
		    " z9hG4bK30239" },
		{ SLB_H_CONTACT, W_M, "m",
		    "\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ;"
		    " newparam =\r\n"
		    "      newvalue ;\r\n"
		    "  secondparam ; q = 0.33" },
	};

	assert_int_equal(strlen(W_SDP), 150);
	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	assert_int_equal(f->s.line_len, strlen(W_REQ));
	check_hdrs(m, &f->s, w, 14);
	assert_int_equal(f->s.body_off, strlen(m) - 150);
	assert_memory_equal(m + f->s.body_off, W_SDP, 150);
}

static void
test_torture_wsinv_params_survive_folding_and_escapes(void **state)
{
	struct fixture *f = *state;
	const char *m = WSINV;
	const struct slb_sip_hdr *h;
	const char *v;
	size_t el;

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);

	h = slb_sip_find(&f->s, SLB_H_TO);
	assert_string_equal(
	    param_of(m + h->voff, h->vlen, "tag"), "1918181833n");
	/* the display name ends in an escaped backslash and an escaped
	 * quote; the tag after the folded ';' is still found */
	h = slb_sip_find(&f->s, SLB_H_FROM);
	assert_string_equal(param_of(m + h->voff, h->vlen, "tag"), "98asjd8");
	h = slb_sip_find(&f->s, SLB_H_VIA);
	assert_string_equal(
	    param_of(m + h->voff, h->vlen, "branch"), "390skdjuw");
	h = slb_sip_find(&f->s, SLB_H_ROUTE);
	assert_string_equal(param_of(m + h->voff, h->vlen, "lr"), "");
	assert_string_equal(
	    param_of(m + h->voff, h->vlen, "unknownwith"), "value");
	assert_string_equal(
	    param_of(m + h->voff, h->vlen, "unknown-no-value"), "");

	/* the second Via header: two elements, each folded */
	h = &f->s.h[12];
	assert_int_equal(h->type, SLB_H_VIA);
	v = m + h->voff;
	el = slb_sip_first_elem(v, h->vlen);
	assert_int_equal(el,
	    strlen("SIP  / 2.0  / TCP     spindle.example.com"
		   "   ;\r\n  branch  =   z9hG4bK9ikj8"));
	assert_string_equal(param_of(v, el, "branch"), "z9hG4bK9ikj8");
	v += el;
	assert_memory_equal(v, "  ,\r\n SIP", 9);
	v += 6;
	assert_string_equal(
	    param_of(v, h->vlen - (size_t)(v - m - h->voff), "branch"),
	    "z9hG4bK30239");

	h = slb_sip_find(&f->s, SLB_H_CONTACT);
	v = m + h->voff;
	assert_int_equal(slb_sip_first_elem(v, h->vlen), h->vlen);
	assert_string_equal(param_of(v, h->vlen, "newparam"), "newvalue");
	assert_string_equal(param_of(v, h->vlen, "secondparam"), "");
	assert_string_equal(param_of(v, h->vlen, "q"), "0.33");

	h = &f->s.h[9];
	assert_int_equal(slb_sip_first_elem(m + h->voff, h->vlen), 2);
	assert_string_equal(param_of(m + h->voff, h->vlen, "x"), NOPARAM);
}

static void
test_message_starting_with_a_continuation_line_is_ebadmsg(void **state)
{
	struct fixture *f = *state;
	const char *sp = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			 " Via: SIP/2.0/UDP a.example.com\r\n"
			 "Content-Length: 0\r\n"
			 "\r\n";
	const char *tab = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			  "\tVia: SIP/2.0/UDP a.example.com\r\n"
			  "\r\n";

	assert_int_equal(slb_sip_scan(sp, strlen(sp), &f->s), EBADMSG);
	assert_int_equal(f->s.nhdrs, 0);
	assert_int_equal(slb_sip_scan(tab, strlen(tab), &f->s), EBADMSG);
	assert_int_equal(f->s.nhdrs, 0);
}

static void
test_header_line_without_colon_is_ebadmsg(void **state)
{
	struct fixture *f = *state;
	const char *m = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n"
			"Max-Forwards 70\r\n"
			"Content-Length: 0\r\n"
			"\r\n";
	const char *noname = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			     ": 70\r\n"
			     "\r\n";
	const char *blank = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			    "   \t: 70\r\n"
			    "\r\n";

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), EBADMSG);
	/* the Via before it was indexed */
	assert_int_equal(f->s.nhdrs, 1);
	assert_int_equal(f->s.h[0].type, SLB_H_VIA);
	assert_int_equal(slb_sip_scan(noname, strlen(noname), &f->s), EBADMSG);
	assert_int_equal(f->s.nhdrs, 0);
	assert_int_equal(slb_sip_scan(blank, strlen(blank), &f->s), EBADMSG);
}

static void
test_message_without_empty_line_is_ebadmsg(void **state)
{
	struct fixture *f = *state;
	const char *noempty = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			      "Via: SIP/2.0/UDP a.example.com\r\n"
			      "Content-Length: 0\r\n";
	const char *cut = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			  "Via: SIP/2.0/UDP a.example.com\r\n"
			  "Content-Length: 0";
	const char *halfcrlf = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			       "Content-Length: 0\r\n"
			       "\r";
	char *b;

	assert_int_equal(
	    slb_sip_scan(noempty, strlen(noempty), &f->s), EBADMSG);
	assert_int_equal(slb_sip_scan(cut, strlen(cut), &f->s), EBADMSG);
	assert_int_equal(
	    slb_sip_scan(halfcrlf, strlen(halfcrlf), &f->s), EBADMSG);
	/* start line only, or not even that */
	b = dup_exact("INVITE sip:bob@biloxi.com SIP/2.0\r\n", 35);
	assert_int_equal(slb_sip_scan(b, 35, &f->s), EBADMSG);
	assert_int_equal(slb_sip_scan(b, 20, &f->s), EBADMSG);
	assert_int_equal(slb_sip_scan(b, 0, &f->s), EBADMSG);
	assert_int_equal(f->s.nhdrs, 0);
	free(b);
}

static void
test_lf_only_line_endings_are_indexed(void **state)
{
	struct fixture *f = *state;
	const char *m = "SIP/2.0 200 OK\n"
			"Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\n"
			"Subject: folded\n"
			" line\n"
			"i: x@y\n"
			"Content-Length: 4\n"
			"\n"
			"body";
	static const struct want w[] = {
		{ SLB_H_VIA,
		    "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\n", "Via",
		    "SIP/2.0/UDP a.example.com;branch=z9hG4bK1" },
		{ SLB_H_OTHER, "Subject: folded\n line\n", "Subject",
		    "folded\n line" },
		{ SLB_H_CALL_ID, "i: x@y\n", "i", "x@y" },
		{ SLB_H_CONTENT_LENGTH, "Content-Length: 4\n",
		    "Content-Length", "4" },
	};

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	assert_int_equal(f->s.line_len, strlen("SIP/2.0 200 OK\n"));
	check_hdrs(m, &f->s, w, 4);
	assert_int_equal(f->s.body_off, strlen(m) - 4);
	assert_int_equal(f->s.body_off, f->s.hdrs_end + 1);
	assert_memory_equal(m + f->s.body_off, "body", 4);
}

static void
test_body_offset_follows_crlfcrlf(void **state)
{
	struct fixture *f = *state;
	const char *m = "MESSAGE sip:b@example.com SIP/2.0\r\n"
			"Content-Length: 5\r\n"
			"\r\n"
			"\r\nhi\n";
	size_t hl = strlen("MESSAGE sip:b@example.com SIP/2.0\r\n"
			   "Content-Length: 5\r\n");

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	assert_int_equal(f->s.hdrs_end, hl);
	assert_int_equal(f->s.body_off, hl + 2);
	/* a body that starts with CRLF is still body */
	assert_memory_equal(m + f->s.body_off, "\r\nhi\n", 5);
	/* no headers at all: the empty line follows the start line */
	assert_int_equal(slb_sip_scan("SIP/2.0 200 OK\r\n\r\n", 18, &f->s), 0);
	assert_int_equal(f->s.nhdrs, 0);
	assert_int_equal(f->s.line_len, 16);
	assert_int_equal(f->s.hdrs_end, 16);
	assert_int_equal(f->s.body_off, 18);
}

static void
test_body_offset_follows_lflf(void **state)
{
	struct fixture *f = *state;
	const char *m = "MESSAGE sip:b@example.com SIP/2.0\n"
			"Content-Length: 3\n"
			"\n"
			"\nhi";
	size_t hl = strlen("MESSAGE sip:b@example.com SIP/2.0\n"
			   "Content-Length: 3\n");

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	assert_int_equal(f->s.hdrs_end, hl);
	assert_int_equal(f->s.body_off, hl + 1);
	assert_memory_equal(m + f->s.body_off, "\nhi", 3);
}

/* A request with n Via headers "Via: SIP/2.0/UDP h<i>\r\n". */
static char *
many_headers(int n, size_t *lenp)
{
	size_t cap = 64 + (size_t)n * 40, len;
	char *b = malloc(cap);

	assert_non_null(b);
	len = (size_t)snprintf(b, cap, "OPTIONS sip:a@b SIP/2.0\r\n");
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(
		    b + len, cap - len, "Via: SIP/2.0/UDP h%d\r\n", i);
	len += (size_t)snprintf(b + len, cap - len, "\r\n");
	assert_true(len < cap);
	*lenp = len;
	return b;
}

static void
test_more_than_max_headers_is_e2big(void **state)
{
	struct fixture *f = *state;
	size_t len;

	f->buf = many_headers(SLB_SIP_MAX_HDRS, &len);
	assert_int_equal(slb_sip_scan(f->buf, len, &f->s), 0);
	assert_int_equal(f->s.nhdrs, SLB_SIP_MAX_HDRS);
	assert_string_equal(value_of(f->buf, &f->s.h[SLB_SIP_MAX_HDRS - 1]),
	    "SIP/2.0/UDP h127");
	assert_int_equal(f->s.body_off, len);
	free(f->buf);

	f->buf = many_headers(SLB_SIP_MAX_HDRS + 1, &len);
	assert_int_equal(slb_sip_scan(f->buf, len, &f->s), E2BIG);
	assert_int_equal(f->s.nhdrs, SLB_SIP_MAX_HDRS);
	free(f->buf);

	f->buf = many_headers(1000, &len);
	assert_int_equal(slb_sip_scan(f->buf, len, &f->s), E2BIG);
	assert_int_equal(f->s.nhdrs, SLB_SIP_MAX_HDRS);
}

static void
test_header_name_with_spaces_before_colon_is_trimmed(void **state)
{
	struct fixture *f = *state;
	/* RFC 3261 §7.3.1: HCOLON = *( SP / HTAB ) ":" SWS */
	const char *m = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			"Via :SIP/2.0/UDP a.example.com\r\n"
			"Call-ID\t \t:   \t x@y \t \r\n"
			"l     : 0\r\n"
			"\r\n";
	static const struct want w[] = {
		{ SLB_H_VIA, "Via :SIP/2.0/UDP a.example.com\r\n", "Via",
		    "SIP/2.0/UDP a.example.com" },
		{ SLB_H_CALL_ID, "Call-ID\t \t:   \t x@y \t \r\n", "Call-ID",
		    "x@y" },
		{ SLB_H_CONTENT_LENGTH, "l     : 0\r\n", "l", "0" },
	};

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	check_hdrs(m, &f->s, w, 3);
}

static void
test_empty_value_has_zero_length(void **state)
{
	struct fixture *f = *state;
	const char *m = "INVITE sip:bob@biloxi.com SIP/2.0\r\n"
			"Subject:\r\n"
			"Organization:    \t \r\n"
			"Supported:\n"
			"Content-Length: 0\r\n"
			"\r\n";
	static const struct want w[] = {
		{ SLB_H_OTHER, "Subject:\r\n", "Subject", "" },
		{ SLB_H_OTHER, "Organization:    \t \r\n", "Organization",
		    "" },
		{ SLB_H_OTHER, "Supported:\n", "Supported", "" },
		{ SLB_H_CONTENT_LENGTH, "Content-Length: 0\r\n",
		    "Content-Length", "0" },
	};

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	/* an empty value sits right after its colon */
	check_hdrs(m, &f->s, w, 4);
}

static void
test_scan_never_reads_past_len(void **state)
{
	struct fixture *f = *state;
	const char *m = INVITE;
	size_t hl = strlen(INVITE_HDRS);

	/* every cut before the empty line is incomplete; from it on, the
	 * index is the same as for the whole message */
	for (size_t l = 0; l <= strlen(m); l++) {
		char *b = dup_exact(m, l);
		int rc = slb_sip_scan(b, l, &f->s);

		if (l < hl) {
			assert_int_equal(rc, EBADMSG);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(f->s.nhdrs, 9);
			assert_int_equal(f->s.body_off, hl);
		}
		free(b);
	}
}

/* ------------------------------------------------------ slb_sip_find */

static void
test_find_returns_the_first_header_of_a_type(void **state)
{
	struct fixture *f = *state;
	const char *m = "SIP/2.0 200 OK\r\n"
			"Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK1\r\n"
			"Record-Route: <sip:p2.example.com;lr>\r\n"
			"v: SIP/2.0/UDP p2.example.com;branch=z9hG4bK2\r\n"
			"Via: SIP/2.0/UDP ua.example.com;branch=z9hG4bK3\r\n"
			"Record-Route: <sip:p1.example.com;lr>\r\n"
			"X-A: 1\r\n"
			"Content-Length: 0\r\n"
			"\r\n";

	assert_int_equal(slb_sip_scan(m, strlen(m), &f->s), 0);
	assert_ptr_equal(slb_sip_find(&f->s, SLB_H_VIA), &f->s.h[0]);
	assert_ptr_equal(slb_sip_find(&f->s, SLB_H_RECORD_ROUTE), &f->s.h[1]);
	assert_ptr_equal(slb_sip_find(&f->s, SLB_H_OTHER), &f->s.h[5]);
	assert_ptr_equal(
	    slb_sip_find(&f->s, SLB_H_CONTENT_LENGTH), &f->s.h[6]);
	assert_null(slb_sip_find(&f->s, SLB_H_ROUTE));
	assert_null(slb_sip_find(&f->s, SLB_H_PATH));
	assert_null(slb_sip_find(&f->s, SLB_H_CALL_ID));
	/* the first is the topmost, even under its compact name */
	f->s.h[0].type = SLB_H_OTHER;
	assert_ptr_equal(slb_sip_find(&f->s, SLB_H_VIA), &f->s.h[2]);
	f->s.nhdrs = 0;
	assert_null(slb_sip_find(&f->s, SLB_H_OTHER));
}

/* ------------------------------------------------ slb_sip_first_elem */

static size_t
first_elem(const char *v)
{
	return slb_sip_first_elem(v, strlen(v));
}

static void
test_first_elem_stops_at_the_first_comma(void **state)
{
	assert_int_equal(first_elem("<sip:a;lr>, <sip:b;lr>"), 10);
	assert_int_equal(first_elem("<sip:a;lr>,<sip:b;lr>,<sip:c>"), 10);
	assert_int_equal(
	    first_elem("SIP/2.0/UDP a.example.com;branch=z9hG4bK1,"
		       "SIP/2.0/TCP b.example.com;branch=z9hG4bK2"),
	    strlen("SIP/2.0/UDP a.example.com;branch=z9hG4bK1"));
	assert_int_equal(first_elem(",<sip:a>"), 0);
}

static void
test_first_elem_ignores_commas_in_quotes(void **state)
{
	const char *v = "\"Doe, John\" <sip:j@x>, <sip:k@y>";

	assert_int_equal(first_elem(v), strlen("\"Doe, John\" <sip:j@x>"));
	/* an escaped quote does not end the quoted string */
	v = "\"Doe \\\", John\" <sip:j@x>, <sip:k@y>";
	assert_int_equal(
	    first_elem(v), strlen("\"Doe \\\", John\" <sip:j@x>"));
	v = "\"a\\\\\", <sip:k@y>";
	assert_int_equal(first_elem(v), strlen("\"a\\\\\""));
}

static void
test_first_elem_ignores_commas_in_angle_brackets(void **state)
{
	const char *v = "<sip:p1.example.com;lr;x=a,b>, <sip:p2.example.com>";

	assert_int_equal(
	    first_elem(v), strlen("<sip:p1.example.com;lr;x=a,b>"));
	v = "<sip:a@h?Subject=x,y>;expires=60,<sip:b@h>";
	assert_int_equal(
	    first_elem(v), strlen("<sip:a@h?Subject=x,y>;expires=60"));
}

static void
test_first_elem_excludes_spaces_before_the_comma(void **state)
{
	assert_int_equal(first_elem("<sip:a;lr>   , <sip:b;lr>"), 10);
	assert_int_equal(first_elem("<sip:a;lr> \t\r\n ,<sip:b;lr>"), 10);
	assert_int_equal(first_elem("   ,x"), 0);
}

static void
test_first_elem_of_a_single_element_is_the_whole_length(void **state)
{
	const char *v = "<sip:a;lr>, <sip:b>";

	assert_int_equal(first_elem("<sip:a;lr>"), 10);
	assert_int_equal(first_elem("\"Doe, John\" <sip:j@x>"), 21);
	assert_int_equal(first_elem("<sip:x;a=b,c>"), 13);
	assert_int_equal(first_elem(""), 0);
	/* the count limits it, not a NUL */
	assert_int_equal(slb_sip_first_elem(v, 10), 10);
	assert_int_equal(slb_sip_first_elem(v, 4), 4);
	assert_int_equal(slb_sip_first_elem(v, 11), 10);
	/* an unterminated quote or bracket swallows the rest */
	assert_int_equal(first_elem("\"Doe, John <sip:j@x>, <sip:k@y>"), 31);
	assert_int_equal(first_elem("<sip:j@x, <sip:k@y>"), 19);
}

/* ----------------------------------------------------- slb_sip_param */

static void
test_param_finds_branch_with_its_value(void **state)
{
	const char *v = "SIP/2.0/UDP a.example.com:5060;branch=z9hG4bK1";
	const char *val = NULL;
	size_t vlen = 0;

	assert_int_equal(
	    slb_sip_param(v, strlen(v), "branch", &val, &vlen), 0);
	assert_ptr_equal(val, v + strlen(v) - 8);
	assert_int_equal(vlen, 8);
	assert_string_equal(
	    param_str(";branch=z9hG4bK1", "branch"), "z9hG4bK1");
	/* RFC 4475 wsinv: spaces around '=' */
	assert_string_equal(
	    param_str(";   tag    = 1918181833n", "tag"), "1918181833n");
	assert_string_equal(
	    param_str(
		"SIP/2.0/UDP h;received=192.0.2.1;rport=5061;branch=z9hG4bKx",
		"rport"),
	    "5061");
}

static void
test_param_finds_a_flag_with_zero_length(void **state)
{
	const char *v = "<sip:p1.example.com;lr>";
	const char *val = NULL;
	size_t vlen = 99;

	assert_int_equal(slb_sip_param(v, strlen(v), "lr", &val, &vlen), 0);
	assert_int_equal(vlen, 0);
	assert_ptr_equal(val, v + strlen(v) - 1);
	assert_string_equal(
	    param_str("SIP/2.0/UDP h;rport;branch=z9hG4bK1", "rport"), "");
	assert_string_equal(param_str("sip:p1.example.com;lr", "lr"), "");
	assert_string_equal(param_str("<sip:p;lr>,<sip:q>", "lr"), "");
	assert_string_equal(param_str("<sip:p;lr=on>", "lr"), "on");
	/* "tag=" is a param with an empty value */
	assert_string_equal(param_str("<sip:a@b>;tag=", "tag"), "");
}

static void
test_param_does_not_take_a_longer_name(void **state)
{
	const char *v = "<sip:p1.example.com;lrx;lr>";
	const char *val = NULL;
	size_t vlen = 99;

	assert_string_equal(param_str("<sip:p;lrx>", "lr"), NOPARAM);
	assert_string_equal(param_str("<sip:p;lrx=1>", "lr"), NOPARAM);
	assert_string_equal(param_str(";branchy=z9hG4bK1", "branch"), NOPARAM);
	assert_string_equal(param_str(";xlr", "lr"), NOPARAM);
	/* the whole name after a longer one */
	assert_int_equal(slb_sip_param(v, strlen(v), "lr", &val, &vlen), 0);
	assert_ptr_equal(val, v + strlen(v) - 1);
	assert_int_equal(vlen, 0);
	assert_string_equal(param_str(";branchy=1;branch=2", "branch"), "2");
}

static void
test_param_names_are_case_insensitive(void **state)
{
	assert_string_equal(param_str("<sip:p;LR>", "lr"), "");
	assert_string_equal(
	    param_str(";Branch=z9hG4bKAbC", "BRANCH"), "z9hG4bKAbC");
	assert_string_equal(param_str(";TAG=x", "tag"), "x");
}

static void
test_param_value_stops_at_delimiters(void **state)
{
	assert_string_equal(param_str(";branch=abc;rport", "branch"), "abc");
	assert_string_equal(
	    param_str("<sip:a@h;transport=tcp>;x", "transport"), "tcp");
	assert_string_equal(
	    param_str(";branch=abc, SIP/2.0/UDP b;branch=def", "branch"),
	    "abc");
	assert_string_equal(param_str(";branch=abc ;x", "branch"), "abc");
	assert_string_equal(param_str(";branch=abc\t;x", "branch"), "abc");
	assert_string_equal(param_str(";branch=abc\r\n ;x", "branch"), "abc");
	assert_string_equal(
	    param_str("<sip:a@h;transport=tcp?Subject=x>", "transport"),
	    "tcp");
	/* and at the end of the counted string */
	assert_string_equal(param_of(";branch=abcdef", 11, "branch"), "abc");
}

static void
test_param_inside_quotes_is_not_found(void **state)
{
	assert_string_equal(param_str("\"x;lr\" <sip:a@b>", "lr"), NOPARAM);
	assert_string_equal(
	    param_str("\"x;tag=evil\" <sip:a@b>;tag=good", "tag"), "good");
	/* an escaped quote does not end the quoted string */
	assert_string_equal(
	    param_str("\"a\\\";lr\" <sip:a@b>", "lr"), NOPARAM);
	assert_string_equal(param_str("\"a\\\"b\" <sip:x@y;lr>", "lr"), "");
	assert_string_equal(
	    param_str("\"a\\\\\" <sip:x@y>;tag=1", "tag"), "1");
}

static void
test_param_is_enoent_when_missing(void **state)
{
	const char *v = "<sip:p1.example.com>";
	const char *val = v;
	size_t vlen = 77;

	assert_int_equal(
	    slb_sip_param(v, strlen(v), "lr", &val, &vlen), ENOENT);
	/* outputs are left alone */
	assert_ptr_equal(val, v);
	assert_int_equal(vlen, 77);
	assert_string_equal(param_str("", "lr"), NOPARAM);
	assert_string_equal(param_str(";", "lr"), NOPARAM);
	assert_string_equal(param_str("lr", "lr"), NOPARAM);
	assert_string_equal(param_str(";l", "lr"), NOPARAM);
	assert_string_equal(
	    param_str("SIP/2.0/UDP h;branch=z9hG4bK1", "rport"), NOPARAM);
	/* the count cuts the name */
	assert_string_equal(
	    param_of(";branch=z9hG4bK1", 4, "branch"), NOPARAM);
}

static void
test_param_allows_folded_whitespace(void **state)
{
	/* RFC 3261 §25.1: SEMI and EQUAL take LWS, which may fold */
	assert_string_equal(param_str("SIP/2.0/TCP h ;\r\n  branch  =\r\n"
				      " z9hG4bK9",
				"branch"),
	    "z9hG4bK9");
	assert_string_equal(
	    param_str("<sip:a@b> ;\r\n  tag = 98asjd8", "tag"), "98asjd8");
	assert_string_equal(param_str("<sip:a@b> ;\r\n\tlr\r\n ;x", "lr"), "");
	assert_string_equal(param_str("<sip:a@b>;tag=x\n ;y", "tag"), "x");
}

/* -------------------------------------------------------- slb_sip_eq */

static void
test_eq_compares_counted_string_without_case(void **state)
{
	assert_true(slb_sip_eq("Via", 3, "via"));
	assert_true(slb_sip_eq("VIA", 3, "via"));
	assert_true(slb_sip_eq("cAlL-iD", 7, "Call-ID"));
	/* counted: the bytes after alen do not matter */
	assert_true(slb_sip_eq("ViaX", 3, "via"));
	assert_true(slb_sip_eq("", 0, ""));
	assert_false(slb_sip_eq("Vi", 2, "via"));
	assert_false(slb_sip_eq("Viaa", 4, "via"));
	assert_false(slb_sip_eq("Vib", 3, "via"));
	assert_false(slb_sip_eq("Via", 3, ""));
	assert_false(slb_sip_eq("", 0, "via"));
}

/* ----------------------------------------------------- slb_sip_frame */

#define MAX 65535

static void
test_frame_returns_length_of_whole_message(void **state)
{
	const char *m = INVITE;

	assert_int_equal(slb_sip_frame(m, strlen(m), MAX), strlen(m));
	assert_int_equal(
	    slb_sip_frame(RINGING, strlen(RINGING), MAX), strlen(RINGING));
	/* exactly max is allowed, one byte less is not */
	assert_int_equal(slb_sip_frame(m, strlen(m), strlen(m)), strlen(m));
	assert_int_equal(slb_sip_frame(m, strlen(m), strlen(m) - 1), -1);
}

static void
test_frame_needs_more_for_partial_header_or_body(void **state)
{
	const char *m = INVITE;
	size_t len = strlen(m);

	for (size_t l = 0; l < len; l++) {
		char *b = dup_exact(m, l);

		assert_int_equal(slb_sip_frame(b, l, MAX), 0);
		free(b);
	}
	assert_int_equal(slb_sip_frame(m, strlen(INVITE_HDRS), MAX), 0);
	assert_int_equal(slb_sip_frame(m, len - 1, MAX), 0);
}

static void
test_frame_returns_first_of_two_pipelined_messages(void **state)
{
	const char *two = INVITE RINGING;
	const char *three = RINGING INVITE RINGING;

	assert_int_equal(slb_sip_frame(two, strlen(two), MAX), strlen(INVITE));
	assert_int_equal(
	    slb_sip_frame(three, strlen(three), MAX), strlen(RINGING));
	/* and the second, once the first is consumed */
	assert_int_equal(
	    slb_sip_frame(two + strlen(INVITE), strlen(RINGING), MAX),
	    strlen(RINGING));
	/* a partial second message does not hold back the first */
	assert_int_equal(
	    slb_sip_frame(two, strlen(INVITE) + 10, MAX), strlen(INVITE));
}

static void
test_frame_without_content_length_is_garbage(void **state)
{
	const char *m = "OPTIONS sip:b@example.com SIP/2.0\r\n"
			"Via: SIP/2.0/TCP a.example.com;branch=z9hG4bK1\r\n"
			"Call-ID: 1@a\r\n"
			"\r\n";
	/* a Content-Length lookalike does not count */
	const char *x = "OPTIONS sip:b@example.com SIP/2.0\r\n"
			"X-Content-Length: 0\r\n"
			"\r\n";

	assert_int_equal(slb_sip_frame(m, strlen(m), MAX), -1);
	assert_int_equal(slb_sip_frame(x, strlen(x), MAX), -1);
	/* a keep-alive is not a message: the transport strips it */
	assert_int_equal(slb_sip_frame("\r\n\r\n", 4, MAX), -1);
}

static void
test_frame_compact_and_folded_content_length_count(void **state)
{
	const char *m = "MESSAGE sip:b@example.com SIP/2.0\r\n"
			"l: 5\r\n"
			"\r\n"
			"hello";
	const char *folded = "MESSAGE sip:b@example.com SIP/2.0\r\n"
			     "Content-Length:\r\n"
			     " 5\r\n"
			     "\r\n"
			     "hello";

	assert_int_equal(slb_sip_frame(m, strlen(m), MAX), strlen(m));
	assert_int_equal(
	    slb_sip_frame(folded, strlen(folded), MAX), strlen(folded));
	assert_int_equal(
	    slb_sip_frame(WSINV, strlen(WSINV), MAX), strlen(WSINV));
}

static long
frame_cl(const char *cl)
{
	char m[256];
	int n = snprintf(m, sizeof(m),
	    "MESSAGE sip:b@example.com SIP/2.0\r\n"
	    "Content-Length: %s\r\n"
	    "\r\n"
	    "hello",
	    cl);

	assert_true(n > 0 && (size_t)n < sizeof(m));
	return slb_sip_frame(m, (size_t)n, MAX);
}

static void
test_frame_rejects_bad_or_huge_content_length(void **state)
{
	long ok = (long)strlen("MESSAGE sip:b@example.com SIP/2.0\r\n"
			       "Content-Length: 5\r\n"
			       "\r\n"
			       "hello");

	assert_int_equal(frame_cl("5"), ok);
	assert_int_equal(frame_cl("0005"), ok + 3);
	assert_int_equal(frame_cl("abc"), -1);
	assert_int_equal(frame_cl(""), -1);
	/* RFC 4475 §3.1.2.3 ncl */
	assert_int_equal(frame_cl("-999"), -1);
	assert_int_equal(frame_cl("+5"), -1);
	assert_int_equal(frame_cl("5 5"), -1);
	assert_int_equal(frame_cl("5;x"), -1);
	assert_int_equal(frame_cl("0x5"), -1);
	/* RFC 4475 §3.1.2.4 scalar02, and past a long */
	assert_int_equal(frame_cl("9999999999999999999999"), -1);
	assert_int_equal(frame_cl("18446744073709551621"), -1);
	assert_int_equal(frame_cl("4294967301"), -1);
	/* bigger than max, though short enough to count */
	assert_int_equal(frame_cl("70000"), -1);
	/* within max: wait for the body */
	assert_int_equal(frame_cl("6"), 0);
}

static void
test_frame_rejects_oversized_header_without_crlfcrlf(void **state)
{
	struct fixture *f = *state;
	size_t big = 4000;

	f->buf = malloc(big);
	assert_non_null(f->buf);
	/* 99 header lines of 40 bytes: well under SLB_SIP_MAX_HDRS */
	memcpy(f->buf, "INVITE sip:b@example.com SIP/2.0\r\nl: 0\r\n", 40);
	for (size_t i = 40; i < big; i += 40)
		memcpy(f->buf + i,
		    "X-Pad: 0123456789abcdefghijklmnopqrstu\r\n", 40);
	assert_int_equal(slb_sip_frame(f->buf, big, 1300), -1);
	/* short partial one: wait for more */
	assert_int_equal(slb_sip_frame(f->buf, 1000, 1300), 0);
	assert_int_equal(slb_sip_frame(f->buf, 1300, 1300), 0);
	assert_int_equal(slb_sip_frame(f->buf, 1301, 1300), -1);
	/* header section complete, but over max */
	memcpy(f->buf + 2000, "\r\n", 2);
	assert_int_equal(slb_sip_frame(f->buf, big, 1300), -1);
	assert_int_equal(slb_sip_frame(f->buf, big, 2001), -1);
	assert_int_equal(slb_sip_frame(f->buf, big, 2002), 2002);
}

/* -------------------------------------------------------------- fuzz */

/* What every return of the scanner must satisfy, good or bad. */
static void
check_scan_result(
    const char *buf, size_t len, const struct slb_sipscan *s, int rc)
{
	uint32_t off;

	assert_true(rc == 0 || rc == EBADMSG || rc == E2BIG);
	assert_in_range(s->nhdrs, 0, SLB_SIP_MAX_HDRS);
	if (s->nhdrs > 0)
		assert_true(s->line_len <= len);
	off = s->line_len;
	for (int i = 0; i < s->nhdrs; i++) {
		const struct slb_sip_hdr *h = &s->h[i];

		assert_in_range(h->type, SLB_H_OTHER, SLB_H_PATH);
		assert_int_equal(h->off, off);
		assert_true(h->len > 0);
		assert_true((size_t)h->off + h->len <= len);
		assert_int_equal(h->noff, h->off);
		assert_true(h->nlen > 0);
		/* name, colon, value, all inside the line */
		assert_true(h->noff + h->nlen < h->voff);
		assert_non_null(memchr(buf + h->noff + h->nlen, ':',
		    h->voff - h->noff - h->nlen));
		assert_true(
		    (size_t)h->voff + h->vlen <= (size_t)h->off + h->len);
		off = h->off + h->len;
	}
	if (rc != 0)
		return;
	assert_int_equal(s->hdrs_end, off);
	assert_true(s->hdrs_end < s->body_off);
	assert_true(s->body_off <= len);
	assert_true(s->body_off - s->hdrs_end <= 2);
}

static void
check_frame_result(
    const char *buf, size_t len, size_t max, long n, struct slb_sipscan *s)
{
	assert_true(n >= -1 && n <= (long)len);
	if (n > 0) {
		assert_true((size_t)n <= max);
		assert_int_equal(slb_sip_scan(buf, (size_t)n, s), 0);
		assert_non_null(slb_sip_find(s, SLB_H_CONTENT_LENGTH));
	}
}

/* first_elem and param on every value must stay inside it. */
static void
check_values(const char *buf, const struct slb_sipscan *s)
{
	static const char *names[] = { "branch", "tag", "lr", "rport", "q" };

	for (int i = 0; i < s->nhdrs; i++) {
		const char *v = buf + s->h[i].voff;
		size_t left = s->h[i].vlen;

		while (left > 0) {
			size_t el = slb_sip_first_elem(v, left);

			assert_true(el <= left);
			for (size_t k = 0; k < 5; k++) {
				const char *val = NULL;
				size_t vlen = 0;

				if (slb_sip_param(
					v, el, names[k], &val, &vlen) == 0)
					assert_true(
					    val >= v && val + vlen <= v + el);
			}
			/* past the element and its comma */
			if (el == left)
				break;
			while (el < left && v[el] != ',')
				el++;
			el++;
			if (el > left)
				break;
			v += el;
			left -= el;
		}
	}
}

/* Bytes that steer the scanner into its branches. */
static const char alphabet[] = "\r\n\r\n:; \t,<>\"\\=?vVlLiI0123456789aZ-";

static void
fill_random(char *p, size_t len, uint64_t *seed)
{
	int mode = (int)(rnd(seed) % 3);

	for (size_t j = 0; j < len; j++) {
		uint64_t r = rnd(seed);

		if (mode == 0 || (mode == 2 && r % 4 == 0))
			p[j] = (char)(r >> 24);
		else
			p[j] = alphabet[(r >> 24) % (sizeof(alphabet) - 1)];
	}
}

static void
test_scan_and_frame_survive_random_bytes(void **state)
{
	struct fixture *f = *state;
	uint64_t seed = FUZZ_SEED;
	unsigned ok = 0, bad = 0, big = 0;

	f->buf = malloc(FUZZ_MAXLEN);
	assert_non_null(f->buf);
	for (int i = 0; i < FUZZ_ROUNDS; i++) {
		size_t len = (size_t)(rnd(&seed) % (FUZZ_MAXLEN + 1));
		size_t max = (size_t)(rnd(&seed) % (FUZZ_MAXLEN + 64));
		/* at the end of the block: ASan flags any read past len */
		char *p = f->buf + FUZZ_MAXLEN - len;
		int rc;
		long n;

		fill_random(p, len, &seed);
		/* half the time, a plausible start line */
		if (len > 20 && rnd(&seed) % 2 == 0)
			memcpy(p, "INVITE sip:a@b SIP/2.0\r\n",
			    len < 24 ? len : 24);
		rc = slb_sip_scan(p, len, &f->s);
		check_scan_result(p, len, &f->s, rc);
		if (rc == 0) {
			ok++;
			check_values(p, &f->s);
		} else if (rc == E2BIG) {
			big++;
		} else {
			bad++;
		}
		n = slb_sip_frame(p, len, max);
		check_frame_result(p, len, max, n, &f->s);
	}
	assert_int_equal(ok + bad + big, FUZZ_ROUNDS);
	/* the alphabet reaches the success path too */
	assert_true(ok > 0);
	assert_true(bad > ok);
}

/* One random edit of buf: flip, delete, insert or cut. */
static size_t
mutate(char *buf, size_t len, size_t cap, uint64_t *seed)
{
	uint64_t r = rnd(seed);
	size_t at = len ? (size_t)(rnd(seed) % len) : 0;
	size_t n = 1 + (size_t)(rnd(seed) % 16);

	switch (r % 5) {
	case 0: /* byte flip */
		if (len)
			buf[at] ^= (char)(1u << (rnd(seed) % 8));
		break;
	case 1: /* byte set from the alphabet */
		if (len)
			buf[at] = alphabet[rnd(seed) % (sizeof(alphabet) - 1)];
		break;
	case 2: /* delete a run */
		if (n > len - at)
			n = len - at;
		memmove(buf + at, buf + at + n, len - at - n);
		len -= n;
		break;
	case 3: /* insert a run */
		if (len + n > cap)
			break;
		memmove(buf + at + n, buf + at, len - at);
		fill_random(buf + at, n, seed);
		len += n;
		break;
	default: /* cut */ len = at; break;
	}
	return len;
}

static void
test_scan_and_frame_survive_mutated_invite(void **state)
{
	struct fixture *f = *state;
	uint64_t seed = FUZZ_SEED ^ 0xa5a5a5a5ULL;
	const char *m = INVITE WSINV;
	size_t olen[2] = { strlen(INVITE), strlen(WSINV) };
	char work[MUTATE_MAXLEN];
	unsigned ok = 0, framed = 0;

	f->buf = malloc(MUTATE_MAXLEN);
	assert_non_null(f->buf);
	for (int i = 0; i < MUTATE_ROUNDS; i++) {
		int which = (int)(rnd(&seed) % 2);
		size_t len = olen[which];
		int edits = 1 + (int)(rnd(&seed) % 4);
		char *p;
		int rc;
		long n;

		memcpy(work, which ? m + olen[0] : m, len);
		for (int k = 0; k < edits; k++)
			len = mutate(work, len, sizeof(work), &seed);
		p = f->buf + MUTATE_MAXLEN - len;
		memcpy(p, work, len);
		rc = slb_sip_scan(p, len, &f->s);
		check_scan_result(p, len, &f->s, rc);
		if (rc == 0) {
			ok++;
			check_values(p, &f->s);
		}
		n = slb_sip_frame(p, len, MUTATE_MAXLEN);
		check_frame_result(p, len, MUTATE_MAXLEN, n, &f->s);
		if (n > 0)
			framed++;
	}
	/* small edits often leave a message that still scans and frames */
	assert_true(ok > MUTATE_ROUNDS / 4);
	assert_true(framed > MUTATE_ROUNDS / 10);
}

static void
test_every_truncation_of_an_invite_is_safe(void **state)
{
	struct fixture *f = *state;
	const char *msgs[] = { INVITE, WSINV, RINGING };

	for (size_t d = 0; d < 3; d++) {
		size_t len = strlen(msgs[d]);
		size_t body_off;

		assert_int_equal(slb_sip_scan(msgs[d], len, &f->s), 0);
		body_off = f->s.body_off;
		for (size_t l = 0; l <= len; l++) {
			char *b = dup_exact(msgs[d], l);
			int rc = slb_sip_scan(b, l, &f->s);

			check_scan_result(b, l, &f->s, rc);
			assert_int_equal(rc, l < body_off ? EBADMSG : 0);
			assert_int_equal(
			    slb_sip_frame(b, l, MAX), l < len ? 0 : (long)len);
			free(b);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_scan_indexes_every_header_of_an_invite),
		T(test_scan_indexes_a_response_with_no_body),
		T(test_compact_header_names_have_their_full_types),
		T(test_header_names_are_case_insensitive),
		T(test_names_that_only_look_like_known_headers_are_other),
		T(test_folded_header_belongs_to_previous_line),
		T(test_value_starting_on_a_continuation_line_is_trimmed),
		T(test_torture_wsinv_is_indexed_exactly),
		T(test_torture_wsinv_params_survive_folding_and_escapes),
		T(test_message_starting_with_a_continuation_line_is_ebadmsg),
		T(test_header_line_without_colon_is_ebadmsg),
		T(test_message_without_empty_line_is_ebadmsg),
		T(test_lf_only_line_endings_are_indexed),
		T(test_body_offset_follows_crlfcrlf),
		T(test_body_offset_follows_lflf),
		T(test_more_than_max_headers_is_e2big),
		T(test_header_name_with_spaces_before_colon_is_trimmed),
		T(test_empty_value_has_zero_length),
		T(test_scan_never_reads_past_len),
		T(test_find_returns_the_first_header_of_a_type),
		T(test_first_elem_stops_at_the_first_comma),
		T(test_first_elem_ignores_commas_in_quotes),
		T(test_first_elem_ignores_commas_in_angle_brackets),
		T(test_first_elem_excludes_spaces_before_the_comma),
		T(test_first_elem_of_a_single_element_is_the_whole_length),
		T(test_param_finds_branch_with_its_value),
		T(test_param_finds_a_flag_with_zero_length),
		T(test_param_does_not_take_a_longer_name),
		T(test_param_names_are_case_insensitive),
		T(test_param_value_stops_at_delimiters),
		T(test_param_inside_quotes_is_not_found),
		T(test_param_is_enoent_when_missing),
		T(test_param_allows_folded_whitespace),
		T(test_eq_compares_counted_string_without_case),
		T(test_frame_returns_length_of_whole_message),
		T(test_frame_needs_more_for_partial_header_or_body),
		T(test_frame_returns_first_of_two_pipelined_messages),
		T(test_frame_without_content_length_is_garbage),
		T(test_frame_compact_and_folded_content_length_count),
		T(test_frame_rejects_bad_or_huge_content_length),
		T(test_frame_rejects_oversized_header_without_crlfcrlf),
		T(test_scan_and_frame_survive_random_bytes),
		T(test_scan_and_frame_survive_mutated_invite),
		T(test_every_truncation_of_an_invite_is_safe),
#undef T
	};

	return cmocka_run_group_tests_name("common_sipmsg", tests, NULL, NULL);
}
