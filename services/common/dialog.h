#ifndef SIPLB_COMMON_DIALOG_H
#define SIPLB_COMMON_DIALOG_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

/*
 * The dialog contract every service shares: one record, one key length,
 * one state enum with the proto's numbers, and one pair of conversions
 * to and from the bus's DialogEvent.  The edge makes the keys (16 hex
 * digits today); dialogd stores them in a VARCHAR(64) column, so 64 is
 * the one limit a key may reach anywhere.
 */

#define SLB_DIALOG_KEY_MAX 64 /* characters; `key` VARCHAR(64) */
#define SLB_DIALOG_EDGE_MAX 64
#define SLB_DIALOG_RES_MAX 255 /* resources joined with ';' */
#define SLB_DIALOG_NRES_MAX 16 /* resources one dialog names */
#define SLB_DIALOG_CALLID_MAX 255
#define SLB_DIALOG_TAG_MAX 128
#define SLB_DIALOG_REASON_MAX 64

/* The proto's DialogState numbers; 0 (unspecified) means "any" in
 * queries and is never a dialog's state. */
enum slb_dialog_state {
	SLB_DIALOG_ANY = SIPLB__V1__DIALOG_STATE__DIALOG_UNSPECIFIED,
	SLB_DIALOG_CREATED = SIPLB__V1__DIALOG_STATE__DIALOG_CREATED,
	SLB_DIALOG_CONFIRMED = SIPLB__V1__DIALOG_STATE__DIALOG_CONFIRMED,
	SLB_DIALOG_TERMINATED = SIPLB__V1__DIALOG_STATE__DIALOG_TERMINATED,
};

/* Reasons a TERMINATED dialog carries when no SIP message ended it. */
#define SLB_DIALOG_REASON_LOST "lost" /* its edge's snapshot lacked it */
#define SLB_DIALOG_REASON_EXPIRED "expired" /* live for too long */

/* One dialog; every string is NUL-terminated printable ASCII. */
struct slb_dialog {
	char key[SLB_DIALOG_KEY_MAX + 1];
	char edge[SLB_DIALOG_EDGE_MAX + 1];
	uint32_t node_id;
	uint32_t group;
	char resources[SLB_DIALOG_RES_MAX + 1];
	enum slb_dialog_state state;
	uint64_t created_us;
	uint64_t updated_us;
	char call_id[SLB_DIALOG_CALLID_MAX + 1];
	char from_tag[SLB_DIALOG_TAG_MAX + 1];
	char to_tag[SLB_DIALOG_TAG_MAX + 1];
	char reason[SLB_DIALOG_REASON_MAX + 1];
};

/* 1 for a usable key: 1..SLB_DIALOG_KEY_MAX characters. */
int slb_dialog_key_ok(const char *key);
/* 1 for CREATED, CONFIRMED or TERMINATED. */
int slb_dialog_state_ok(int state);
/* "created", "confirmed", "terminated" ("unknown" for anything else). */
const char *slb_dialog_state_name(int state);
/* The reverse of slb_dialog_state_name; EINVAL for anything else. */
int slb_dialog_state_parse(const char *name, enum slb_dialog_state *stp);

/* Copy src (NULL = "") into dst (size len) keeping printable ASCII and
 * turning other bytes into '?', cut at len - 1.  Returns 1 when cut. */
int slb_dialog_copy_field(char *dst, size_t len, const char *src);

/* A DialogEvent as a record: edge defaults to `edge` when the event names
 * none, times to now_us when 0; resources that do not fit whole are left
 * out, a reason is kept for TERMINATED only.  EINVAL (and *d zeroed) for
 * an empty or over-long key or a bad state. */
int slb_dialog_from_pb(const Siplb__V1__DialogEvent *e, const char *edge,
    uint64_t now_us, struct slb_dialog *d);
/* The reverse, borrowing d's strings: d->resources is split in place on
 * ';' into res (nres_max slots), so d must outlive e and is changed. */
void slb_dialog_to_pb(struct slb_dialog *d, Siplb__V1__DialogEvent *e,
    char **res, size_t nres_max);

#endif
