/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/duration.h"

static const struct {
  char unit;
  uint64_t seconds;
} units[] = {
  { 'w', 7 * 86400 }, { 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
};
#define NR_UNITS (sizeof units / sizeof units[0])

int
vc_parse_duration (const char *s, uint64_t *seconds)
{
  const char *p = s;
  uint64_t total = 0;
  size_t next_unit = 0;         /* units before this one were used */

  if (*p < '0' || *p > '9')
    return -1;
  while (*p) {
    uint64_t v = 0, scale = 0;

    /* Digits only: strtoull would take a sign or leading spaces. */
    if (*p < '0' || *p > '9')
      return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
      if (v > (UINT64_MAX - (uint64_t) (*p - '0')) / 10)
        return -1;
      v = v * 10 + (uint64_t) (*p - '0');
    }
    if (*p == '\0') {
      /* Plain seconds stand alone ("900"): "1m30" is refused. */
      if (next_unit != 0)
        return -1;
      scale = 1;
    }
    else {
      for (size_t i = next_unit; i < NR_UNITS; i++)
        if (units[i].unit == *p) {
          scale = units[i].seconds;
          next_unit = i + 1;
          break;
        }
      if (scale == 0)
        return -1;              /* unknown, repeated or out of order */
      p++;
    }
    if (v > UINT64_MAX / scale || v * scale > UINT64_MAX - total)
      return -1;
    total += v * scale;
    if (scale == 1 && *p == '\0')
      break;
  }
  *seconds = total;
  return 0;
}

char *
vc_format_duration (uint64_t seconds, char *buf)
{
  size_t used = 0;

  buf[0] = '\0';
  for (size_t i = 0; i < NR_UNITS; i++) {
    uint64_t n = seconds / units[i].seconds;
    if (n == 0)
      continue;
    seconds -= n * units[i].seconds;
    used += snprintf (buf + used, VC_DURATION_BUFSIZE - used, "%" PRIu64 "%c",
                      n, units[i].unit);
  }
  if (used == 0)
    strcpy (buf, "0s");
  return buf;
}
