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

/* At most len bytes of s, up to its first '\n' or NUL, in out (of size
 * outlen, at least 4), every byte outside printable ASCII shown as '?',
 * cut with "..." when longer: for quoting what a peer sent in a message,
 * where a control byte must not reach a terminal or a log.  Returns out.
 */
extern char *vc_printable (const char *s, size_t len, char *out, size_t outlen);

#endif
