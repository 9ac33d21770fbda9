/* SPDX-License-Identifier: GPL-2.0-or-later */
/* "KEY: VALUE" lines, as virtckptd's status report is written and read.
 *
 * A value never holds a line break or any other control character: they
 * and the backslash are written as \xHH, so that no value (a domain name,
 * an error message) can pass for a line of its own.  A reader takes the
 * first line of a key: the report's fixed fields come before any line
 * whose value names something.
 */
#ifndef VIRTCKPT_KV_LINES_H
#define VIRTCKPT_KV_LINES_H

#include <stdio.h>

/* A value is cut after this many bytes (as written), and "..." added:
 * a peer's domain name can be long, a status report must not be.
 */
#define VC_KV_VALUE_MAX 1024

/* Writes "KEY: VALUE\n", VALUE escaped and bounded. */
extern void vc_kv_put (FILE *fp, const char *key, const char *value);

/* The value (malloc'd, as written: escaped) of the first line of text
 * that is "KEY: VALUE"; NULL when there is none (or out of memory).
 */
extern char *vc_kv_get (const char *text, const char *key);

/* The value as it was before vc_kv_put escaped it (malloc'd; NULL when
 * out of memory).  A "\\xHH" that does not decode to a byte is kept as it
 * is.
 */
extern char *vc_kv_unescape (const char *value);

#endif
