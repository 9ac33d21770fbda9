/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Small string helpers. */
#ifndef VIRTCKPT_STRINGS_H
#define VIRTCKPT_STRINGS_H

#include <stdbool.h>
#include <string.h>

/* Like asprintf, returning the string, or NULL when out of memory. */
extern char *vc_printf (const char *fmt, ...)
  __attribute__ ((format (printf, 1, 2)));

static inline bool
vc_streq (const char *a, const char *b)
{
  return (a == NULL && b == NULL) || (a && b && strcmp (a, b) == 0);
}

#endif
