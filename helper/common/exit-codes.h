/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Exit codes of virtckpt(8): documented there (EXIT STATUS), relied on by
 * the OCF agents instead of the wording of messages.  A code, once given a
 * meaning, keeps it.
 */
#ifndef VIRTCKPT_EXIT_CODES_H
#define VIRTCKPT_EXIT_CODES_H

enum {
  VC_EXIT_OK = 0,
  VC_EXIT_ERROR = 1,
  VC_EXIT_USAGE = 2,
  /* The checkpoint chain cannot be used: the next backup must be full. */
  VC_EXIT_CHAIN_BROKEN = 3,
  /* Nothing is stored for the domain (checkpoints show, forget). */
  VC_EXIT_NOT_STORED = 4,
  /* capture refused: libvirt holds none of the stored checkpoints (the
   * domain was re-created and not redefined yet); the store is unchanged.
   */
  VC_EXIT_NOT_IN_LIBVIRT = 5,
  /* virtckptd runs on this node but is not synced with the cluster
   * (status --wait-synced, redefine): its replica may be stale.
   */
  VC_EXIT_NOT_SYNCED = 6,
  /* No virtckptd runs on this node (status). */
  VC_EXIT_NO_DAEMON = 7,
  /* The process serving virtckptd's IPC name is not a trustworthy
   * virtckptd (not root, or its replica is writable by others): the
   * command used no store at all.
   */
  VC_EXIT_UNTRUSTED_DAEMON = 8,
  /* Another virtckpt (a backup, a prune) writes to the backup directory
   * (prune): nothing was changed; try again once it is done.  Also
   * 'schedule run': a due backup was deferred (held, node drained).
   */
  VC_EXIT_BUSY = 9,
  /* status --check: the backups of a domain are not healthy (the last
   * one failed, the chain is broken, or its schedule is overdue).
   */
  VC_EXIT_UNHEALTHY = 10,
  /* On a Pacemaker Remote node, no full node's virtckptd could be used
   * (none answers, the key is refused, none is synced with a quorate
   * cluster): the command used no store at all.
   */
  VC_EXIT_NO_CLUSTER = 11,
};

#endif
