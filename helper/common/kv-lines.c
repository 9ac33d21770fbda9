/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kv-lines.h"

void
vc_kv_put (FILE *fp, const char *key, const char *value)
{
  size_t n = 0;

  fprintf (fp, "%s: ", key);
  for (const unsigned char *p = (const unsigned char *) value; *p; p++) {
    if (n >= VC_KV_VALUE_MAX) {
      fputs ("...", fp);
      break;
    }
    if (*p < 0x20 || *p == 0x7f || *p == '\\') {
      fprintf (fp, "\\x%02x", *p);
      n += 4;
    }
    else {
      fputc (*p, fp);
      n++;
    }
  }
  fputc ('\n', fp);
}

char *
vc_kv_get (const char *text, const char *key)
{
  size_t klen = strlen (key);

  for (const char *line = text; line && *line;) {
    const char *nl = strchr (line, '\n');
    size_t len = nl ? (size_t) (nl - line) : strlen (line);
    if (len >= klen + 2 && memcmp (line, key, klen) == 0 &&
        line[klen] == ':' && line[klen + 1] == ' ')
      return strndup (line + klen + 2, len - klen - 2);
    line = nl ? nl + 1 : NULL;
  }
  return NULL;
}

static int
hex_digit (char c)
{
  return c >= '0' && c <= '9' ? c - '0'
    : c >= 'a' && c <= 'f' ? c - 'a' + 10
    : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

char *
vc_kv_unescape (const char *value)
{
  char *out = malloc (strlen (value) + 1), *q = out;

  if (out == NULL)
    return NULL;
  for (const char *p = value; *p; p++) {
    int hi, lo;
    if (p[0] == '\\' && p[1] == 'x' && (hi = hex_digit (p[2])) >= 0 &&
        (lo = hex_digit (p[3])) >= 0 && hi * 16 + lo != 0) {
      *q++ = (char) (hi * 16 + lo);
      p += 3;
    }
    else
      *q++ = *p;
  }
  *q = '\0';
  return out;
}
