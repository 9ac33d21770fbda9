/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The outcome of a domain's last backup, kept in its store document so
 * that every node knows it:
 *
 *   <last-backup time="1764669600" level="inc" result="failed"
 *                node="host-a" id="7" seconds="12.345" bytes="1048576">
 *     <dir>/backups/web1</dir>
 *     <error>cannot write /backups/web1/.partial-7/vda.qcow2: No space left</error>
 *     <last-ok time="1764666000" level="inc" id="6"/>
 *   </last-backup>
 *
 * time: when the attempt ended; level: full|inc|diff|copy, absent when it
 * failed before choosing one; result: ok|failed|interrupted; id: the
 * backup's id in dir (absent before it had one); <error> only when it did
 * not end ok.  <last-ok> is the last attempt that ended ok (absent when
 * none did), so that a failure does not hide it.
 *
 * Read as untrusted like the rest of the document: enumerations must be
 * one of their values, numbers in range, texts bounded and free of
 * control characters.  Writing sanitises the texts the same way, so what
 * is written always reads back.
 */
#ifndef VIRTCKPT_LAST_BACKUP_H
#define VIRTCKPT_LAST_BACKUP_H

#include <stdbool.h>
#include <stdint.h>
#include <libxml/tree.h>

#include "store/chain.h"

struct vc_store;

enum vc_backup_result {
  VC_RESULT_OK,
  VC_RESULT_FAILED,
  /* cancelled or stopped by a signal; a later backup may resume it */
  VC_RESULT_INTERRUPTED,
};

/* Bounds of the texts, in bytes. */
#define VC_LAST_BACKUP_MAX_ERROR 1024
#define VC_LAST_BACKUP_MAX_NODE 255
#define VC_LAST_BACKUP_MAX_DIR 4096

struct vc_last_backup {
  int64_t time;                 /* the attempt's end, seconds since the epoch */
  char *level;                  /* full|inc|diff|copy, or NULL */
  enum vc_backup_result result;
  char *node;                   /* host name of the node that ran it, or NULL */
  uint32_t id;                  /* 0: none */
  double seconds;               /* how long it ran */
  uint64_t bytes;               /* written into the backup directory */
  char *dir;                    /* the backup directory, or NULL */
  char *error;                  /* why it did not end ok, or NULL */
  /* The last attempt that ended ok: ok_time 0 when none did. */
  int64_t ok_time;
  char *ok_level;
  uint32_t ok_id;
};

extern void vc_last_backup_free (struct vc_last_backup *lb);
/* A deep copy, or NULL when out of memory. */
extern struct vc_last_backup *vc_last_backup_dup (const struct vc_last_backup *lb);

extern const char *vc_backup_result_name (enum vc_backup_result r);
/* 0 and *r, or -1 when name is none of them. */
extern int vc_backup_result_of (const char *name, enum vc_backup_result *r);

/* Adds <last-backup> under root when chain has one.  false when out of
 * memory.
 */
extern bool vc_last_backup_format (xmlNodePtr root, const struct vc_chain *chain);
/* Reads <last-backup> under root into chain->last_backup (NULL when
 * absent).  -1 and a malloc'd reason when it is malformed.
 */
extern int vc_last_backup_parse (xmlNodePtr root, struct vc_chain *chain,
                                 char **err);

/* Replaces chain's record with rec, keeping the last ok of the previous
 * record unless rec itself ended ok.  -1 when out of memory.
 */
extern int vc_last_backup_set (struct vc_chain *chain,
                               const struct vc_last_backup *rec);

/* Records rec as the outcome of domain's last backup: a new version of
 * its document (a new, empty one if none is stored).  Errors are logged.
 */
extern int vc_store_record_backup (struct vc_store *store, const char *domain,
                                   const struct vc_last_backup *rec);

#endif
