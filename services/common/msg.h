#ifndef SIPLB_COMMON_MSG_H
#define SIPLB_COMMON_MSG_H

#include <nng/nng.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "siplb.pb-c.h"

/* The protocol version every top-level message carries (field `version`). */
#define SLB_PROTO_VERSION 1
/* Oldest version this build still speaks. */
#define SLB_PROTO_MIN 1

/* Largest message any siplb socket accepts: a dialog snapshot of about
 * 300,000 live dialogs fits (an edge's or dialogd's), and garbage beyond it
 * is refused before it is decoded. */
#define SLB_MSG_MAX (32u << 20)

/* Pack `m` into a new nng message (caller owns it on success). Sets the
 * `version` field first when the message has one. Returns 0 or ENOMEM. */
int slb_msg_pack(ProtobufCMessage *m, nng_msg **outp);

/* Unpack the body of `msg` as `desc`, refusing bodies over `max` bytes
 * (E2BIG), garbage (EBADMSG) and other versions (EPROTONOSUPPORT). The
 * message stays the caller's. On success free *outp with slb_msg_free. */
int slb_msg_unpack(const ProtobufCMessageDescriptor *desc, const nng_msg *msg,
    size_t max, ProtobufCMessage **outp);

/* Same for a plain buffer. */
int slb_msg_unpack_buf(const ProtobufCMessageDescriptor *desc, const void *buf,
    size_t len, size_t max, ProtobufCMessage **outp);

/* What a REP answers a request slb_msg_unpack refused with rc: the status
 * (UNSUPPORTED_VERSION or BAD_REQUEST) and, in *why, the words. */
Siplb__V1__Status slb_msg_refusal(int rc, const char **why);

/* free_unpacked for what slb_msg_unpack made; NULL is a no-op. */
void slb_msg_free(ProtobufCMessage *m);

/* Version field of a message, 0 when it has none. */
unsigned slb_msg_version(const ProtobufCMessage *m);

/* Convert an nng error to +errno, keeping the nng text for the log. */
int slb_nng_errno(int nng_err);

#endif
