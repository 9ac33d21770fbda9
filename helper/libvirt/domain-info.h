/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What a backup needs from the live domain XML: its disks, and the user
 * QEMU runs as (who must be able to create the NBD socket).
 */
#ifndef VIRTCKPT_DOMAIN_INFO_H
#define VIRTCKPT_DOMAIN_INFO_H

#include <stdbool.h>
#include <sys/types.h>

#include "store/store.h"

struct vc_domain_info {
  string_vector disks;          /* targets of device='disk' disks, in order */
  bool have_owner;
  uid_t qemu_uid;
  gid_t qemu_gid;
  bool has_agent;               /* a org.qemu.guest_agent.0 channel */
};

extern int vc_domain_info_parse (const char *xml, struct vc_domain_info *info,
                                 char **err);
extern void vc_domain_info_clear (struct vc_domain_info *info);

#endif
