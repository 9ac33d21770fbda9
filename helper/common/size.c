/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdint.h>
#include <string.h>

#include "common/size.h"

int
vc_parse_size (const char *s, uint64_t *bytes)
{
  static const char units[] = "KMG";
  uint64_t v = 0, scale = 1;
  const char *p = s, *u;

  /* Digits only: strtoull would take a sign or leading spaces. */
  if (*p < '0' || *p > '9')
    return -1;
  for (; *p >= '0' && *p <= '9'; p++) {
    if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
      return -1;
    v = v * 10 + (uint64_t) (*p - '0');
  }
  if (*p) {
    u = strchr (units, *p);
    if (u == NULL || *u == '\0')
      return -1;
    p++;
    if (strcmp (p, "") != 0 && strcmp (p, "iB") != 0)
      return -1;
    for (long i = 0; i <= u - units; i++)
      scale *= 1024;
    if (v > UINT64_MAX / scale)
      return -1;
  }
  *bytes = v * scale;
  return 0;
}
