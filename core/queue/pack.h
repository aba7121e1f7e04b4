/* Core queue: msgpack encoding of script arguments, as BullMQ's msgpackr
 * (useRecords: false, undefined as nil) encodes them. */
#ifndef KRC_QUEUE_PACK_H
#define KRC_QUEUE_PACK_H

#include <jansson.h>
#include <msgpack.h>

/* any thread. A JSON value as msgpackr packs the same value parsed by Node:
 * numbers that are whole are integers (JavaScript has one number type),
 * others float64; null is nil. */
void krc_pack_json(msgpack_packer *pk, const json_t *v);
/* any thread. A NUL-terminated string; NULL packs nil. */
void krc_pack_cstr(msgpack_packer *pk, const char *s);

#endif
