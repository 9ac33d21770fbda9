/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Hex digits, and the %XX escapes built from them.
 *
 * One codec for every place that turns bytes into text: digests (the
 * checksums, the hashed store file names) and the %-escaped domain
 * names of the store's file names and of virtckptd's messages.  Each
 * user decides which bytes stay plain; the escape itself is the same.
 */
#ifndef VIRTCKPT_HEX_H
#define VIRTCKPT_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* Writes the n bytes at p as 2n lowercase hex digits and a NUL. */
extern void vc_hex_put (char *out, const void *p, size_t n);

/* The value of hex digit c (either case), or -1. */
extern int vc_hex_value (char c);

/* Whether byte c, at offset pos of the name, is written as itself. */
typedef bool (*vc_percent_plain_fn) (unsigned char c, size_t pos);

/* The length of s once bytes that are not plain become %XX. */
extern size_t vc_percent_len (const char *s, vc_percent_plain_fn plain);

/* Writes s escaped (uppercase %XX) at out, which has room for
 * vc_percent_len (s) + 1 bytes; returns the terminating NUL's address.
 */
extern char *vc_percent_put (char *out, const char *s, vc_percent_plain_fn plain);

/* A malloc'd escaped copy of s, or NULL when out of memory. */
extern char *vc_percent_encode (const char *s, vc_percent_plain_fn plain);

/* Decodes the n bytes at s (escapes in either case).  NULL with errno
 * EINVAL for a '%' without two hex digits after it, or for %00, which
 * would cut the name short.
 */
extern char *vc_percent_decode (const char *s, size_t n);

#endif
