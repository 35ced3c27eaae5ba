#define SLB_LOG_MODULE "msg"
#include "msg.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

static uint32_t *
version_field(const ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor *f;

	f = protobuf_c_message_descriptor_get_field_by_name(
	    m->descriptor, "version");
	if (f == NULL || f->type != PROTOBUF_C_TYPE_UINT32 ||
	    f->label == PROTOBUF_C_LABEL_REPEATED)
		return NULL;
	return (uint32_t *)((char *)m + f->offset);
}

unsigned
slb_msg_version(const ProtobufCMessage *m)
{
	uint32_t *v = version_field(m);

	return v ? *v : 0;
}

int
slb_msg_pack(ProtobufCMessage *m, nng_msg **outp)
{
	uint32_t *v = version_field(m);
	nng_msg *msg;
	size_t len;

	if (v != NULL)
		*v = SLB_PROTO_VERSION;
	len = protobuf_c_message_get_packed_size(m);
	if (nng_msg_alloc(&msg, len) != 0)
		return ENOMEM;
	if (len > 0)
		protobuf_c_message_pack(m, nng_msg_body(msg));
	*outp = msg;
	return 0;
}

int
slb_msg_unpack_buf(const ProtobufCMessageDescriptor *desc, const void *buf,
    size_t len, size_t max, ProtobufCMessage **outp)
{
	ProtobufCMessage *m;
	uint32_t *v;

	if (len > max)
		return E2BIG;
	m = protobuf_c_message_unpack(desc, NULL, len, buf);
	if (m == NULL)
		return EBADMSG;
	v = version_field(m);
	if (v != NULL && (*v < SLB_PROTO_MIN || *v > SLB_PROTO_VERSION)) {
		protobuf_c_message_free_unpacked(m, NULL);
		return EPROTONOSUPPORT;
	}
	*outp = m;
	return 0;
}

int
slb_msg_unpack(const ProtobufCMessageDescriptor *desc, const nng_msg *msg,
    size_t max, ProtobufCMessage **outp)
{
	return slb_msg_unpack_buf(
	    desc, nng_msg_body((nng_msg *)msg), nng_msg_len(msg), max, outp);
}

Siplb__V1__Status
slb_msg_refusal(int rc, const char **why)
{
	if (rc == EPROTONOSUPPORT) {
		*why = "protocol version not supported: this peer speaks "
		       "version 1";
		return SIPLB__V1__STATUS__STATUS_UNSUPPORTED_VERSION;
	}
	*why = rc == E2BIG ? "request too large" : "malformed request";
	return SIPLB__V1__STATUS__STATUS_BAD_REQUEST;
}

void
slb_msg_free(ProtobufCMessage *m)
{
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
}

int
slb_nng_errno(int e)
{
	switch (e) {
	case 0: return 0;
	case NNG_ENOMEM: return ENOMEM;
	case NNG_ETIMEDOUT: return ETIMEDOUT;
	case NNG_EAGAIN: return EAGAIN;
	case NNG_ECONNREFUSED: return ECONNREFUSED;
	case NNG_EADDRINUSE: return EADDRINUSE;
	case NNG_EADDRINVAL: return EADDRNOTAVAIL;
	case NNG_ECLOSED: return EBADF;
	case NNG_ECANCELED: return ECANCELED;
	case NNG_EPERM: return EPERM;
	case NNG_EINVAL: return EINVAL;
	case NNG_ESTATE: return EPROTO;
	case NNG_EMSGSIZE: return EMSGSIZE;
	default:
		if (e & NNG_ESYSERR)
			return e & ~NNG_ESYSERR;
		return EIO;
	}
}
