/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A small JSON writer for virtckpt's --json documents (virtckpt(8),
 * JSON OUTPUT): objects, arrays, strings, integers, booleans, null,
 * indented by two spaces.
 *
 * Strings are bytes from anywhere (a domain or checkpoint name, a
 * message): valid UTF-8 is written as it is, control characters, '"'
 * and '\' are escaped, and each byte that is not part of valid UTF-8 is
 * written as \udcXX (XX the byte), Python's "surrogateescape", so that no
 * name is lost: json.loads (s) then .encode ("utf-8", "surrogateescape")
 * gives the bytes back.
 *
 * Misuse (a value where a key is due, an unbalanced end) and write
 * errors are remembered, not reported: vc_json_finish says.
 */
#ifndef VIRTCKPT_JSON_WRITER_H
#define VIRTCKPT_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define VC_JSON_MAX_DEPTH 16

struct vc_json {
  FILE *fp;
  int depth;
  bool failed;
  bool after_key;                       /* a key is written, its value due */
  bool in_object[VC_JSON_MAX_DEPTH];    /* else in an array */
  bool has_items[VC_JSON_MAX_DEPTH];
};

extern void vc_json_init (struct vc_json *j, FILE *fp);

extern void vc_json_begin_object (struct vc_json *j);
extern void vc_json_end_object (struct vc_json *j);
extern void vc_json_begin_array (struct vc_json *j);
extern void vc_json_end_array (struct vc_json *j);
/* The key of the next member of the open object. */
extern void vc_json_key (struct vc_json *j, const char *key);

/* s NULL: null. */
extern void vc_json_string (struct vc_json *j, const char *s);
extern void vc_json_int (struct vc_json *j, int64_t v);
extern void vc_json_uint (struct vc_json *j, uint64_t v);
extern void vc_json_bool (struct vc_json *j, bool v);
extern void vc_json_null (struct vc_json *j);
/* A number of seconds with millisecond precision (12.345), whatever the
 * locale.
 */
extern void vc_json_seconds (struct vc_json *j, double seconds);

/* Members: vc_json_key, then the value. */
extern void vc_json_member_string (struct vc_json *j, const char *key, const char *s);
extern void vc_json_member_int (struct vc_json *j, const char *key, int64_t v);
extern void vc_json_member_uint (struct vc_json *j, const char *key, uint64_t v);
extern void vc_json_member_bool (struct vc_json *j, const char *key, bool v);

/* Ends the document with a newline and flushes it.  Returns 0, or -1 when
 * the document is incomplete, was misused, or could not be written.
 */
extern int vc_json_finish (struct vc_json *j);

#endif
