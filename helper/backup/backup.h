/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt backup: one pull-mode backup of a running domain into a
 * backup directory (see manifest.h for its layout).
 */
#ifndef VIRTCKPT_BACKUP_H
#define VIRTCKPT_BACKUP_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <libvirt/libvirt.h>

#include "backup/checksum.h"
#include "store/store.h"

struct vc_backup_options {
  const char *domain;
  const char *outdir;
  const char *level;            /* full, inc, diff, copy, auto */
  string_vector include;        /* --disk */
  string_vector exclude;        /* --exclude */
  const char *rundir;           /* for NBD sockets and scratch files */
  unsigned connections;         /* NBD connections per disk */
  uint32_t request_size;
  uint32_t max_in_flight;
  uint64_t max_rate;            /* bytes per second read, all disks; 0: any */
  bool progress;                /* progress line on stderr */
  enum vc_checksum_algo checksum;
  volatile sig_atomic_t *cancel;
  unsigned *done_id;            /* if not NULL: set to the committed backup's id */
  /* Offline backups (backup/offline.h): forced, and the domain XML to
   * take the disks from (NULL: libvirt's definition or the stored chain).
   */
  bool offline;
  const char *config;
  /* The cluster's members were asked: none runs the domain. */
  bool no_member_runs_it;
};

/* Returns a VC_EXIT_* code. */
extern int vc_backup_run (virConnectPtr conn, struct vc_store *store,
                          const struct vc_backup_options *opts);

#endif
