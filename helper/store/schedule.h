/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A domain's backup schedule, kept in its store document, so that it
 * replicates, conflicts and is deleted exactly as its checkpoint chain:
 *
 *   <schedule every="900" full-every="604800" keep-last="7" keep-daily="7"
 *             keep-weekly="4" keep-monthly="6" set="1764228000">
 *     <dir>/backups/web1</dir>
 *   </schedule>
 *
 *   every         seconds between backups, 1 .. VC_SCHEDULE_MAX_PERIOD;
 *                 windows are the multiples of every since the epoch
 *   full-every    optional: a full backup once the last full is this old
 *                 (every .. VC_SCHEDULE_MAX_PERIOD); absent: a full only
 *                 when the chain needs one
 *   keep-*        optional retention, 1 .. VC_SCHEDULE_MAX_KEEP each;
 *                 absent: not set
 *   set           when the schedule was set (seconds since the epoch)
 *   <dir>         the backup directory: absolute, at most
 *                 VC_SCHEDULE_MAX_DIR bytes, no control character
 *
 * A document comes from disk or from a peer: all of it is checked on
 * reading, and a document with a bad <schedule> is refused as a whole.
 */
#ifndef VIRTCKPT_SCHEDULE_H
#define VIRTCKPT_SCHEDULE_H

#include <stdbool.h>
#include <stdint.h>
#include <libxml/tree.h>

#define VC_SCHEDULE_MAX_PERIOD (3660 * 86400ULL)  /* ten years and more */
#define VC_SCHEDULE_MAX_KEEP 100000u
#define VC_SCHEDULE_MAX_DIR 4095

struct vc_schedule {
  char *dir;
  uint64_t every;               /* seconds */
  uint64_t full_every;          /* seconds; 0: not set */
  uint32_t keep_last, keep_daily, keep_weekly, keep_monthly;  /* 0: not set */
  int64_t set;
};

extern void vc_schedule_free (struct vc_schedule *s);
/* A deep copy, or NULL when out of memory. */
extern struct vc_schedule *vc_schedule_copy (const struct vc_schedule *s);

/* NULL when s is valid (the rules above), else why not (static). */
extern const char *vc_schedule_invalid (const struct vc_schedule *s);
/* The rule for <dir> alone, for the command line. */
extern bool vc_schedule_valid_dir (const char *dir);

/* Adds <schedule> to parent; -1 when out of memory or s is invalid. */
extern int vc_schedule_format (xmlNodePtr parent, const struct vc_schedule *s);

/* Reads the <schedule> child of root into *out (NULL when there is
 * none).  -1 with a malloc'd reason in *err when it is malformed or
 * there is more than one.
 */
extern int vc_schedule_parse (xmlNodePtr root, struct vc_schedule **out,
                              char **err);

#endif
