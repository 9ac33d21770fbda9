/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/vc-strings.h"

char *
vc_printf (const char *fmt, ...)
{
  va_list ap;
  char *s;
  int r;

  va_start (ap, fmt);
  r = vasprintf (&s, fmt, ap);
  va_end (ap);
  return r == -1 ? NULL : s;
}

char *
vc_printable (const char *s, size_t len, char *out, size_t outlen)
{
  size_t i, o = 0;

  for (i = 0; i < len && s[i] != '\0' && s[i] != '\n'; i++) {
    if (o + 1 == outlen) {
      o = outlen - 4;
      memcpy (out + o, "...", 3);
      o += 3;
      break;
    }
    out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
  }
  out[o] = '\0';
  return out;
}
