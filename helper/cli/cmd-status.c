/* SPDX-License-Identifier: GPL-2.0-or-later */
/* virtckpt status: what virtckptd on this node knows. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "common/cleanup.h"
#include "common/kv-lines.h"
#include "store/daemon-client.h"
#include "common/exit-codes.h"
#include "common/log.h"

/* The state line only: a value elsewhere (a domain name in a conflict,
 * an error) cannot pass for it (common/kv-lines.h).
 */
static bool
is_synced (const char *text)
{
  CLEANUP_FREE char *state = text ? vc_kv_get (text, "state") : NULL;

  return state && strcmp (state, "synced") == 0;
}

int
vc_cmd_status (const struct vc_options *o, int argc, char **argv)
{
  struct vc_daemon *d;
  char *text = NULL;
  time_t deadline = time (NULL) + o->wait_synced;

  if (argc != 0) {
    fprintf (stderr, "virtckpt: status: no argument expected\n");
    return VC_EXIT_USAGE;
  }
  int why = ENOENT;

  for (;;) {
    d = vc_daemon_connect ();
    if (d == NULL)
      why = errno;
    else {
      text = vc_daemon_status (d);
      vc_daemon_close (d);
      /* It runs, so a failure here must not read "not running". */
      if (text == NULL)
        why = EPROTO;
    }
    bool synced = is_synced (text);
    if (synced || why == EPERM || o->wait_synced == 0 ||
        time (NULL) >= deadline)
      break;
    free (text);
    text = NULL;
    usleep (200 * 1000);
  }
  if (text == NULL) {
    vc_error ("%s%s", vc_daemon_unreachable (why),
              o->wait_synced ? " (waited for it)" : "");
    return why == ENOENT ? VC_EXIT_NO_DAEMON
         : why == EPERM ? VC_EXIT_UNTRUSTED_DAEMON : VC_EXIT_ERROR;
  }
  fputs (text, stdout);
  bool synced = is_synced (text);
  free (text);
  if (o->wait_synced && !synced) {
    vc_error ("virtckptd is not synced after %u s", o->wait_synced);
    return VC_EXIT_NOT_SYNCED;
  }
  return VC_EXIT_OK;
}
