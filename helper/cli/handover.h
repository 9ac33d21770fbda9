/* SPDX-License-Identifier: GPL-2.0-or-later */
/* backup and cancel from any node (handover.c). */
#ifndef VIRTCKPT_HANDOVER_H
#define VIRTCKPT_HANDOVER_H

#include <stdbool.h>

#include "cli/commands.h"

struct vc_daemon;

/* Whether domain runs on this host: 1 yes, 0 no (or not defined),
 * -1 libvirt not reachable.
 */
extern int vc_domain_runs_here (const char *uri, const char *domain);

/* Runs "virtckpt KIND DOMAIN" (backup or cancel) with o's options on the
 * member where domain runs, printing its output here, and returns its
 * exit code.  *nowhere: no member runs it (or no daemon runs here):
 * nothing was done, the caller goes on as on a single host.  *asked (may
 * be NULL): the members were asked, and none runs it.
 */
extern int vc_handover (const struct vc_options *o, const char *kind,
                        const char *domain, bool *nowhere, bool *asked);

/* The cluster-wide lease of a local backup of domain, held until the
 * returned connection is closed; NULL when none was taken: *status is
 * VC_EXIT_ERROR when another node holds it (said), else OK (no daemon,
 * or no cluster with quorum: warned; the local run lock still applies).
 */
extern struct vc_daemon *vc_backup_lease (const char *domain,
                                          const char *store_dir, int *status);

#endif
