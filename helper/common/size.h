/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sizes given on the command line: 1048576, 64K, 64KiB, 1M, 2MiB, 1G. */
#ifndef VIRTCKPT_SIZE_H
#define VIRTCKPT_SIZE_H

#include <stdint.h>

/* Parses s, decimal digits and an optional binary suffix (K, M, G, each
 * with or without "iB": 1K = 1KiB = 1024), into *bytes.  Returns 0, or -1
 * for anything else: a sign, spaces, junk, an empty string, a value past
 * UINT64_MAX.
 */
extern int vc_parse_size (const char *s, uint64_t *bytes);

#endif
