/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt status --domains | DOMAIN...: the backup health of domains. */
#ifndef VIRTCKPT_STATUS_DOMAINS_H
#define VIRTCKPT_STATUS_DOMAINS_H

#include "cli/commands.h"

/* argv: the domains (every stored one when argc is 0).  A VC_EXIT_* code. */
extern int vc_status_domains (const struct vc_options *o, int argc, char **argv);

#endif
