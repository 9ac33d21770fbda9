/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The libvirt side of a pull-mode backup: the job, its checkpoint, and
 * the NBD export QEMU serves on a unix socket in a private job directory.
 */
#ifndef VIRTCKPT_BACKUP_JOB_H
#define VIRTCKPT_BACKUP_JOB_H

#include <signal.h>
#include <stdbool.h>
#include <string.h>

#include "backup/backup-checkpoint.h"
#include "libvirt/domain-info.h"

struct vc_backup_job {
  const struct vc_backup_domain *d;
  const char *rundir;
  char *dir;                    /* NBD socket and scratch files */
  char *socket;
  volatile sig_atomic_t *cancel; /* set by a signal: do not start */
  bool started;
  bool consistent;              /* started with the filesystems frozen */
};

/* Whether s is in v: disk lists are a handful of targets. */
static inline bool
vc_in_list (const string_vector *v, const char *s)
{
  for (size_t i = 0; i < v->len; i++)
    if (strcmp (v->ptr[i], s) == 0)
      return true;
  return false;
}

/* Ends the job a virtckpt killed with SIGKILL left (the caller holds the
 * run lock, so it is no live run's); -1 (logged) also when the domain has
 * a job virtckpt did not start.
 */
extern int vc_backup_job_end_stale (const struct vc_backup_domain *d,
                                    const char *rundir);

/* Creates the job directory under j->rundir, owned by QEMU's user. */
extern int vc_backup_job_make_dir (struct vc_backup_job *j,
                                   const struct vc_domain_info *info);

/* Starts the job, with the guest's filesystems frozen if its agent
 * can (j->consistent tells): the disks of info that are in disks are exported
 * (changes since checkpoint since, or whole when since is NULL), the
 * others left out; creates checkpoint, unless NULL, as backup id.
 */
extern int vc_backup_job_begin (struct vc_backup_job *j,
                                const struct vc_domain_info *info,
                                const string_vector *disks, const char *since,
                                const char *checkpoint, unsigned id);

/* Ends a started job; the NBD connections must be closed first. */
extern void vc_backup_job_end (struct vc_backup_job *j);

extern void vc_backup_job_remove_dir (struct vc_backup_job *j);

#endif
