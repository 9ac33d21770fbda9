/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Freezing a guest's filesystems (guest agent) around the start of a
 * backup job, and thawing a freeze that a killed virtckpt left behind.
 *
 * RUNDIR/NAME.frozen (NAME encoded as for the run lock) is written before
 * the agent is asked to freeze and removed once the guest is thawed.  A
 * marker found by a later run (which holds the run lock, so no live
 * virtckpt froze the guest) means a virtckpt died in between: the guest
 * may still be frozen by it, and is thawed.  The agent's own state
 * (guest-fsfreeze-status) cannot tell who froze the guest: a freeze that
 * another tool made on purpose (no marker) is left alone.
 */
#ifndef VIRTCKPT_GUEST_FREEZE_H
#define VIRTCKPT_GUEST_FREEZE_H

#include <signal.h>
#include <stdbool.h>
#include <libvirt/libvirt.h>

struct vc_freeze {
  virDomainPtr dom;
  const char *domain;
  const char *rundir;
  bool frozen;                  /* frozen by this process, not thawed yet */
};

/* Thaws dom if a virtckpt that was killed left it frozen (the marker is
 * there), or unconditionally when force.  The caller holds the run lock.
 * Returns 1 thawed, 0 nothing was frozen, -1 failed (logged at level, e.g.
 * LOG_WARNING for a backup that goes on; the marker is kept).
 */
extern int vc_freeze_recover (virDomainPtr dom, const char *rundir,
                              const char *domain, bool force, int level);

/* Freezes the guest's filesystems: true when frozen ("froze N
 * filesystems"), false when it could not (warned: the backup is then
 * crash-consistent).  has_agent: the domain has an agent channel.
 */
extern bool vc_freeze (struct vc_freeze *f, bool has_agent);

/* Test-only: with VIRTCKPT_TEST_FREEZE_PAUSE=SECONDS in the environment,
 * stays frozen that long (or until *cancel), so that tests can signal a
 * virtckpt while the guest is frozen.  Never set it in production.
 */
extern void vc_freeze_test_pause (const struct vc_freeze *f,
                                  volatile sig_atomic_t *cancel);

/* Thaws what vc_freeze froze ("thawed") and removes the marker; a no-op
 * when not frozen.  Returns -1 (logged, the marker kept) on failure.
 */
extern int vc_thaw (struct vc_freeze *f);

/* virtckpt thaw: vc_freeze_recover under the domain's run lock (a running
 * backup thaws what it froze itself).  Returns a VC_EXIT_* code.
 */
extern int vc_freeze_thaw_command (virConnectPtr conn, const char *rundir,
                                   const char *domain, bool force);

#endif
