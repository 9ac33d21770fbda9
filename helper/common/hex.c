/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <stdlib.h>

#include "common/hex.h"

static const char lower[] = "0123456789abcdef";
static const char upper[] = "0123456789ABCDEF";

void
vc_hex_put (char *out, const void *p, size_t n)
{
  const unsigned char *b = p;

  for (size_t i = 0; i < n; i++) {
    *out++ = lower[b[i] >> 4];
    *out++ = lower[b[i] & 15];
  }
  *out = '\0';
}

int
vc_hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

size_t
vc_percent_len (const char *s, vc_percent_plain_fn plain)
{
  size_t n = 0;

  for (size_t i = 0; s[i]; i++)
    n += plain ((unsigned char) s[i], i) ? 1 : 3;
  return n;
}

char *
vc_percent_put (char *out, const char *s, vc_percent_plain_fn plain)
{
  for (size_t i = 0; s[i]; i++) {
    unsigned char c = s[i];
    if (plain (c, i))
      *out++ = c;
    else {
      *out++ = '%';
      *out++ = upper[c >> 4];
      *out++ = upper[c & 15];
    }
  }
  *out = '\0';
  return out;
}

char *
vc_percent_encode (const char *s, vc_percent_plain_fn plain)
{
  char *out = malloc (vc_percent_len (s, plain) + 1);

  if (out)
    vc_percent_put (out, s, plain);
  return out;
}

char *
vc_percent_decode (const char *s, size_t n)
{
  char *out = malloc (n + 1), *p = out;

  if (out == NULL)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    if (s[i] != '%') {
      *p++ = s[i];
      continue;
    }
    int hi = i + 2 < n ? vc_hex_value (s[i + 1]) : -1;
    int lo = hi >= 0 ? vc_hex_value (s[i + 2]) : -1;
    if (lo < 0 || (hi | lo) == 0) {
      free (out);
      errno = EINVAL;
      return NULL;
    }
    *p++ = hi << 4 | lo;
    i += 2;
  }
  *p = '\0';
  return out;
}
