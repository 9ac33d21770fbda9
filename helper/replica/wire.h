/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckptd's messages as they travel over CPG.
 *
 * Every CPG message is a 40-byte little-endian header, then a fragment of
 * the payload.  A logical message larger than VC_FRAGMENT_SIZE (a summary,
 * a big document) goes as several fragments with the same msgid; CPG
 * keeps each sender's messages in order, so they arrive in order.
 *
 * The payloads are text, names %-escaped so that they never contain the
 * tabs and newlines that separate fields:
 *   SYNC_START  the view, 16 hex digits
 *   SUMMARY     one line per document: NAME GEN NODE FLAGS BASE-GEN BASE-NODE
 *               (tab-separated; FLAGS 'q'|'n' for quorum, 'd'|'-' tombstone)
 *               each name once, at most VC_SUMMARY_MAX_ENTRIES lines, each
 *               version no older than its base (vc_version_valid)
 *   DOC         NAME '\n' document
 *   UPDATE      'P'|'D' '\t' NAME '\t' 'q'|'n' '\n' document (P only)
 *   DONE        empty
 *   LEASE       'A' NAME JOB 'q'|'n'  or  'R' NAME JOB  (tab-separated)
 *   CLAIMS      one line per lease the sender holds: NAME JOB
 *   JOB         tab-separated fields, the first the operation (job.h)
 * (LEASE, CLAIMS and JOB fields are %-escaped like names.)
 */
#ifndef VIRTCKPT_WIRE_H
#define VIRTCKPT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "common/vector.h"
#include "store/version.h"

#define VC_CPG_GROUP "virtckpt"
#define VC_MSG_MAGIC 0x444b4356u        /* "VCKD" little endian */
#define VC_PROTO_VERSION 1
#define VC_WIRE_HEADER_SIZE 40
/* Payload per CPG message, well under corosync's limit. */
#define VC_FRAGMENT_SIZE (128 * 1024)
/* Largest reassembled message accepted. */
#define VC_MESSAGE_MAX (40 * 1024 * 1024)
/* The most documents (domains and tombstones) a summary may list: a
 * longer one is rejected whole.
 */
#define VC_SUMMARY_MAX_ENTRIES 100000
/* A view as SYNC_START names it, with its NUL. */
#define VC_WIRE_VIEW_SIZE 17

enum vc_msg_type {
  VC_MSG_SUMMARY = 1,           /* what a member holds: names and versions */
  VC_MSG_DOC = 2,               /* a document a member lacks (sync) */
  VC_MSG_DONE = 3,              /* the sender has sent all it had to */
  VC_MSG_UPDATE = 4,            /* a new document or a tombstone (normal) */
  VC_MSG_SYNC_START = 5,        /* the leader opens the epoch of a view */
  VC_MSG_LEASE = 6,             /* acquire or release a domain's lease */
  VC_MSG_CLAIMS = 7,            /* the leases the sender holds (sync) */
  VC_MSG_JOB = 8,               /* a job handed over and its answers */
};

struct vc_wire_header {
  uint32_t magic;
  uint16_t version, type;
  uint64_t epoch, msgid;
  uint32_t frag, frags, len;
};

/* A sender in the CPG group. */
struct vc_member {
  uint32_t nodeid;
  uint32_t pid;
};
DEFINE_VECTOR_TYPE (vc_member_vector, struct vc_member);

static inline bool
vc_member_eq (struct vc_member a, struct vc_member b)
{
  return a.nodeid == b.nodeid && a.pid == b.pid;
}

struct vc_outmsg {
  unsigned char *buf;
  size_t len;
};
DEFINE_VECTOR_TYPE (vc_outmsg_vector, struct vc_outmsg);

struct vc_reassembly;
DEFINE_VECTOR_TYPE (vc_reassembly_vector, struct vc_reassembly *);

/* --- header and fragments --- */

extern void vc_wire_put_header (unsigned char *p, const struct vc_wire_header *h);
extern void vc_wire_get_header (const unsigned char *p, struct vc_wire_header *h);

/* Whether h, read from a message of len bytes, can be one of ours. */
extern bool vc_wire_header_ok (const struct vc_wire_header *h, size_t len);

/* Appends the fragments of a message to out.  -1 when out of memory
 * (the fragments queued so far stay).
 */
extern int vc_wire_fragment (vc_outmsg_vector *out, enum vc_msg_type type,
                             uint64_t epoch, uint64_t msgid,
                             const char *payload, size_t len);

enum vc_wire_result {
  VC_WIRE_WHOLE,                /* *msg holds a whole message */
  VC_WIRE_PARTIAL,              /* more fragments to come */
  VC_WIRE_OUT_OF_SEQUENCE,      /* dropped, with what came before */
  VC_WIRE_NO_MEMORY,            /* dropped */
};

struct vc_wire_message {
  uint32_t type;
  uint64_t msgid;
  const char *payload;          /* valid until the next fragment of from */
  size_t len;
};

/* Adds the fragment (h, data) from one sender to what came before it. */
extern enum vc_wire_result vc_wire_reassemble (vc_reassembly_vector *v,
                                               struct vc_member from,
                                               const struct vc_wire_header *h,
                                               const char *data,
                                               struct vc_wire_message *msg);
extern void vc_wire_reassembly_free (vc_reassembly_vector *v);

/* --- payloads --- */

extern void vc_wire_view (char buf[VC_WIRE_VIEW_SIZE], uint64_t view);

/* Writes the summary line of one document. */
extern void vc_wire_summary_line (FILE *fp, const char *domain,
                                  const struct vc_version *v);

/* Calls add for every line of a summary, handing it the name; -1 at the
 * first malformed line (or when add fails).
 */
typedef int (*vc_wire_entry_fn) (char *name, const struct vc_version *v,
                                 void *opaque);
extern int vc_wire_parse_summary (const char *p, size_t len,
                                  vc_wire_entry_fn add, void *opaque);

/* A DOC payload; NULL when out of memory. */
extern char *vc_wire_doc (const char *domain, const char *text);
/* The domain (malloc'd) of a DOC payload and where its document is;
 * -1 for a bad name.
 */
extern int vc_wire_parse_doc (const char *payload, size_t len, char **domain,
                              const char **text, size_t *text_len);

/* An UPDATE payload: text (len bytes) for domain, or with text NULL a
 * tombstone.  NULL when out of memory.
 */
extern char *vc_wire_update (const char *domain, const char *text, size_t len,
                             bool quorate);

struct vc_wire_update {
  char op;                      /* 'P' put, 'D' delete */
  char *domain;                 /* malloc'd */
  bool without_quorum;
  const char *text;             /* the document of a put */
  size_t text_len;
};
/* -1 when the payload is malformed. */
extern int vc_wire_parse_update (const char *payload, size_t len,
                                 struct vc_wire_update *u);

/* --- tab-separated fields (LEASE, CLAIMS, JOB) --- */

/* The n fields, each %-escaped, joined by tabs; NULL when out of memory. */
extern char *vc_wire_join (size_t n, const char *const *fields);
/* Splits one line of tab-separated fields into at most max decoded
 * fields (malloc'd, to free with vc_wire_fields_free); the number of
 * fields, or -1 when malformed (a bad escape, more than max fields).
 */
extern ssize_t vc_wire_split (const char *p, size_t len, size_t max,
                              char **fields);
extern void vc_wire_fields_free (size_t n, char **fields);

#endif
