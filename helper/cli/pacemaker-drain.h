/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Whether Pacemaker is draining this node: no scheduled backup starts on
 * a node in standby or maintenance, one shutting down, or in a cluster in
 * maintenance mode.  Asked of Pacemaker's own tools (crm_node, crm_mon),
 * which talk to the local Pacemaker.
 */
#ifndef VIRTCKPT_PACEMAKER_DRAIN_H
#define VIRTCKPT_PACEMAKER_DRAIN_H

#include <stddef.h>

/* 1 draining, with why (malloc'd), 0 not, -1 no Pacemaker answers here
 * (no cluster, or Pacemaker not running: then nothing drains the node).
 */
extern int vc_pacemaker_draining (char **why);

/* From 'crm_mon --output-as=xml' (xml, untrusted) and this node's name:
 * 1 draining with why (malloc'd), 0 not, -1 unreadable (logged).
 */
extern int vc_pacemaker_drain_reason (const char *xml, size_t len,
                                      const char *node, char **why);

#endif
