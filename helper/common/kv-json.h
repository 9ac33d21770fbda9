/* SPDX-License-Identifier: GPL-2.0-or-later */
/* "KEY: VALUE" lines (common/kv-lines.h) as the members of a JSON object:
 * virtckpt status --json.
 */
#ifndef VIRTCKPT_KV_JSON_H
#define VIRTCKPT_KV_JSON_H

#include "common/json-writer.h"

enum vc_kv_type {
  VC_KV_STRING,                 /* the value, unescaped */
  VC_KV_UINT,                   /* a decimal number; null if it is not one */
  VC_KV_BOOL,                   /* yes/no; null if neither */
  VC_KV_UINT_LIST,              /* numbers separated by spaces: an array */
  VC_KV_STRING_LIST,            /* every line of the key: an array of strings */
  VC_KV_STRING_OR_DASH,         /* "-" is null */
};

struct vc_kv_kind {
  const char *key;              /* as in the lines */
  const char *json_key;         /* NULL: key with '-' as '_' */
  enum vc_kv_type type;
};

/* Writes a member for each key of text into the open object of j, in the
 * order of the lines: the value of the key's first line (kv-lines.h: the
 * first counts), or for a VC_KV_STRING_LIST key all its lines.  A key of
 * kinds (ended by a NULL key) has its type, any other is a string; a
 * VC_KV_STRING_LIST key with no line is an empty array.  Returns 0, or -1
 * when out of memory.
 */
extern int vc_kv_json_members (struct vc_json *j, const char *text,
                               const struct vc_kv_kind *kinds);

#endif
