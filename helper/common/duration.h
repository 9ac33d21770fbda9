/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Durations given on the command line and shown back: 90s, 15m, 4h, 1d,
 * 2w, 1h30m, or plain seconds.
 */
#ifndef VIRTCKPT_DURATION_H
#define VIRTCKPT_DURATION_H

#include <stddef.h>
#include <stdint.h>

/* Parses s into *seconds: plain decimal seconds alone ("900"), or one or more
 * NUMBER UNIT terms with the units s, m, h, d, w in decreasing order,
 * each at most once ("1h30m", "2w", "90s").  Returns 0, or -1 for
 * anything else: a sign, spaces, junk, an empty string, units out of
 * order or repeated, a total past UINT64_MAX.  *seconds is written only
 * on success.
 */
extern int vc_parse_duration (const char *s, uint64_t *seconds);

/* Room for any duration formatted, with its NUL: UINT64_MAX is 14
 * digits of weeks and 6d23h59m59s at most.
 */
#define VC_DURATION_BUFSIZE 32

/* Writes seconds into buf (VC_DURATION_BUFSIZE bytes) as the terms that
 * vc_parse_duration reads back to the same value, largest unit first,
 * zero terms left out ("1w", "1h30m", "90s" is "1m30s", 0 is "0s").
 * Returns buf.
 */
extern char *vc_format_duration (uint64_t seconds, char *buf);

#endif
