/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/json-writer.h"

void
vc_json_init (struct vc_json *j, FILE *fp)
{
  memset (j, 0, sizeof *j);
  j->fp = fp;
}

static void
newline (struct vc_json *j)
{
  fputc ('\n', j->fp);
  for (int i = 0; i < j->depth; i++)
    fputs ("  ", j->fp);
}

/* Before any value: its separator, or refuse it where a key is due. */
static bool
value_start (struct vc_json *j)
{
  if (j->failed)
    return false;
  if (j->after_key) {
    j->after_key = false;
    return true;
  }
  if (j->depth == 0)
    return true;
  if (j->in_object[j->depth - 1]) {
    j->failed = true;
    return false;
  }
  if (j->has_items[j->depth - 1])
    fputc (',', j->fp);
  j->has_items[j->depth - 1] = true;
  newline (j);
  return true;
}

static void
begin (struct vc_json *j, bool object)
{
  if (!value_start (j))
    return;
  if (j->depth == VC_JSON_MAX_DEPTH) {
    j->failed = true;
    return;
  }
  fputc (object ? '{' : '[', j->fp);
  j->in_object[j->depth] = object;
  j->has_items[j->depth] = false;
  j->depth++;
}

static void
end (struct vc_json *j, bool object)
{
  if (j->failed || j->after_key || j->depth == 0 ||
      j->in_object[j->depth - 1] != object) {
    j->failed = true;
    return;
  }
  j->depth--;
  if (j->has_items[j->depth])
    newline (j);
  fputc (object ? '}' : ']', j->fp);
}

void vc_json_begin_object (struct vc_json *j) { begin (j, true); }
void vc_json_end_object (struct vc_json *j) { end (j, true); }
void vc_json_begin_array (struct vc_json *j) { begin (j, false); }
void vc_json_end_array (struct vc_json *j) { end (j, false); }

/* The length of the valid UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or 0.
 */
static size_t
utf8_length (const unsigned char *p)
{
  unsigned char lo = 0x80, hi = 0xbf;
  size_t n;

  if (*p < 0x80)
    return 1;
  if (*p >= 0xc2 && *p <= 0xdf)
    n = 2;
  else if (*p >= 0xe0 && *p <= 0xef) {
    n = 3;
    if (*p == 0xe0) lo = 0xa0;
    if (*p == 0xed) hi = 0x9f;
  }
  else if (*p >= 0xf0 && *p <= 0xf4) {
    n = 4;
    if (*p == 0xf0) lo = 0x90;
    if (*p == 0xf4) hi = 0x8f;
  }
  else
    return 0;
  if (p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < n; i++)
    if (p[i] < 0x80 || p[i] > 0xbf)
      return 0;
  return n;
}

static void
write_string (FILE *fp, const char *s)
{
  const unsigned char *p = (const unsigned char *) s;

  fputc ('"', fp);
  while (*p) {
    size_t n = utf8_length (p);
    switch (n ? *p : 0x100) {
    case '"': fputs ("\\\"", fp); break;
    case '\\': fputs ("\\\\", fp); break;
    case '\n': fputs ("\\n", fp); break;
    case '\t': fputs ("\\t", fp); break;
    case '\r': fputs ("\\r", fp); break;
    case '\b': fputs ("\\b", fp); break;
    case '\f': fputs ("\\f", fp); break;
    case 0x100:                 /* not UTF-8: the byte, as surrogateescape */
      fprintf (fp, "\\udc%02x", *p);
      n = 1;
      break;
    default:
      if (*p < 0x20 || *p == 0x7f)
        fprintf (fp, "\\u%04x", *p);
      else
        fwrite (p, 1, n, fp);
    }
    p += n;
  }
  fputc ('"', fp);
}

void
vc_json_key (struct vc_json *j, const char *key)
{
  if (j->failed || j->after_key || j->depth == 0 || !j->in_object[j->depth - 1]) {
    j->failed = true;
    return;
  }
  if (j->has_items[j->depth - 1])
    fputc (',', j->fp);
  j->has_items[j->depth - 1] = true;
  newline (j);
  write_string (j->fp, key);
  fputs (": ", j->fp);
  j->after_key = true;
}

void
vc_json_string (struct vc_json *j, const char *s)
{
  if (value_start (j)) {
    if (s)
      write_string (j->fp, s);
    else
      fputs ("null", j->fp);
  }
}

void
vc_json_int (struct vc_json *j, int64_t v)
{
  if (value_start (j))
    fprintf (j->fp, "%" PRId64, v);
}

void
vc_json_uint (struct vc_json *j, uint64_t v)
{
  if (value_start (j))
    fprintf (j->fp, "%" PRIu64, v);
}

void
vc_json_bool (struct vc_json *j, bool v)
{
  if (value_start (j))
    fputs (v ? "true" : "false", j->fp);
}

void
vc_json_null (struct vc_json *j)
{
  if (value_start (j))
    fputs ("null", j->fp);
}

void
vc_json_seconds (struct vc_json *j, double seconds)
{
  /* Not printf's %f: LC_NUMERIC could make its point a comma. */
  if (!isfinite (seconds) || seconds < 0 || seconds > 1e15) {
    vc_json_null (j);
    return;
  }
  uint64_t ms = (uint64_t) (seconds * 1000 + 0.5);
  if (value_start (j))
    fprintf (j->fp, "%" PRIu64 ".%03" PRIu64, ms / 1000, ms % 1000);
}

void
vc_json_member_string (struct vc_json *j, const char *key, const char *s)
{
  vc_json_key (j, key);
  vc_json_string (j, s);
}

void
vc_json_member_int (struct vc_json *j, const char *key, int64_t v)
{
  vc_json_key (j, key);
  vc_json_int (j, v);
}

void
vc_json_member_uint (struct vc_json *j, const char *key, uint64_t v)
{
  vc_json_key (j, key);
  vc_json_uint (j, v);
}

void
vc_json_member_bool (struct vc_json *j, const char *key, bool v)
{
  vc_json_key (j, key);
  vc_json_bool (j, v);
}

int
vc_json_finish (struct vc_json *j)
{
  if (j->depth != 0 || j->after_key)
    j->failed = true;
  if (!j->failed)
    fputc ('\n', j->fp);
  if (fflush (j->fp) == EOF || ferror (j->fp))
    j->failed = true;
  return j->failed ? -1 : 0;
}
