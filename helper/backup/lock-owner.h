/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Who holds a domain's run lock (backup-guard.h), as "cancel" must know
 * before it signals anyone.
 *
 * The backup records "PID STARTTIME\n" in the lock file (STARTTIME:
 * field 22 of /proc/PID/stat, clock ticks since boot).  A pid read back
 * is believed only when the kernel names that very pid as the holder of
 * the lock (/proc/locks) and the process has that start time: a stale,
 * damaged or forged record, or a pid reused by another process, is never
 * signalled.
 */
#ifndef VIRTCKPT_LOCK_OWNER_H
#define VIRTCKPT_LOCK_OWNER_H

#include <stddef.h>
#include <sys/types.h>

/* Records this process in the lock file fd (which it holds). */
extern int vc_lock_owner_record (int fd);

/* Empties the lock file fd before its lock is released. */
extern void vc_lock_owner_clear (int fd);

/* The holder of the lock on fd, as recorded: 1 verified (*pid, and
 * *pidfd: a pidfd of it, to signal exactly that process, or -1 where the
 * kernel has no pidfds), 0 nothing recorded (yet), -1 not to be trusted
 * (why says so).
 */
extern int vc_lock_owner_get (int fd, pid_t *pid, int *pidfd,
                              char *why, size_t len);

/* The pid the record names, unverified, for messages: 0 when none. */
extern pid_t vc_lock_owner_claimed (int fd);

#endif
