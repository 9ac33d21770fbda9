/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt thaw */
#include <config.h>

#include <stdio.h>

#include "backup/guest-freeze.h"
#include "cli/commands.h"
#include "common/exit-codes.h"
#include "libvirt/libvirt-conn.h"

int
vc_cmd_thaw (const struct vc_options *o, int argc, char **argv)
{
  virConnectPtr conn;
  int ret;

  if (argc != 1) {
    fprintf (stderr, "virtckpt: thaw: expected DOMAIN\n"
             "Try 'virtckpt thaw --help'.\n");
    return VC_EXIT_USAGE;
  }
  conn = vc_libvirt_open (o->uri);
  if (conn == NULL)
    return VC_EXIT_ERROR;
  ret = vc_freeze_thaw_command (conn, o->rundir, argv[0], o->force);
  virConnectClose (conn);
  return ret;
}
