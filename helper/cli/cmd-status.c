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
#include "cli/status-domains.h"
#include "common/cleanup.h"
#include "common/kv-json.h"
#include "common/kv-lines.h"
#include "store/daemon-client.h"
#include "common/exit-codes.h"
#include "common/json-writer.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "store/remote-node.h"

/* The state line only: a value elsewhere (a domain name in a conflict,
 * an error) cannot pass for it (common/kv-lines.h).
 */
static bool
is_synced (const char *text)
{
  CLEANUP_FREE char *state = text ? vc_kv_get (text, "state") : NULL;

  return state && strcmp (state, "synced") == 0;
}

/* --json: the daemon's "KEY: VALUE" lines as one object; its wire
 * format, which the agents read, stays as it is.  The keys whose value is
 * not a string; any other (a newer daemon's) is one.
 */
static const struct vc_kv_kind status_kinds[] = {
  { "node", NULL, VC_KV_UINT }, { "members", NULL, VC_KV_UINT_LIST },
  { "quorate", NULL, VC_KV_BOOL }, { "syncs", NULL, VC_KV_UINT },
  { "domains", NULL, VC_KV_UINT }, { "checkpoints", NULL, VC_KV_UINT },
  { "tombstones", NULL, VC_KV_UINT }, { "updates-applied", NULL, VC_KV_UINT },
  { "messages-rejected", NULL, VC_KV_UINT }, { "conflicts", NULL, VC_KV_UINT },
  { "conflicts-not-kept", NULL, VC_KV_UINT },
  { "messages-sent", NULL, VC_KV_UINT }, { "bytes-sent", NULL, VC_KV_UINT },
  { "messages-received", NULL, VC_KV_UINT },
  { "bytes-received", NULL, VC_KV_UINT },
  { "conflict", "recent_conflicts", VC_KV_STRING_LIST },
  /* leases and jobs (virtckptd(8), "Leases and jobs") */
  { "lease", "leases", VC_KV_STRING_LIST }, { "job", "jobs", VC_KV_STRING_LIST },
  /* the scheduler (virtckptd(8), "Schedules") */
  { "schedules", NULL, VC_KV_UINT }, { "scheduled-runs", NULL, VC_KV_UINT },
  { "scheduled-failures", NULL, VC_KV_UINT },
  { "scheduled-running", "scheduled_running", VC_KV_STRING_LIST },
  { "last-error", NULL, VC_KV_STRING_OR_DASH },
  /* "version" is the document's: a daemon's own would be another key. */
  { "version", "daemon_version", VC_KV_STRING },
  /* on a Pacemaker Remote node: the full node that answered */
  { "served-by", "served_by", VC_KV_STRING },
  { NULL },
};

static int
print_json (const char *text)
{
  struct vc_json j;

  vc_json_init (&j, stdout);
  vc_json_begin_object (&j);
  vc_json_member_uint (&j, "version", 1);
  if (vc_kv_json_members (&j, text, status_kinds) == -1)
    return -1;
  vc_json_end_object (&j);
  return vc_json_finish (&j);
}

int
vc_cmd_status (const struct vc_options *o, int argc, char **argv)
{
  struct vc_daemon *d;
  char *text = NULL;
  time_t deadline = time (NULL) + o->wait_synced;

  if (argc != 0 || o->domains || o->check || o->attribute)
    return vc_status_domains (o, argc, argv);
  int why = ENOENT;
  bool remote_node = false;

  for (;;) {
    d = vc_daemon_open (o->store_dir, &remote_node);
    if (d == NULL)
      why = errno;
    else {
      text = vc_daemon_status (d);
      if (text && vc_daemon_is_remote (d)) {
        /* Which full node answered for this remote node. */
        char *served = vc_printf ("served-by: %s\n%s", vc_daemon_server (d), text);
        free (text);
        text = served;
      }
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
    return remote_node ? VC_EXIT_NO_CLUSTER
         : why == ENOENT ? VC_EXIT_NO_DAEMON
         : why == EPERM ? VC_EXIT_UNTRUSTED_DAEMON : VC_EXIT_ERROR;
  }
  bool synced = is_synced (text);
  if (o->json) {
    if (print_json (text) == -1) {
      vc_error ("cannot write the status as JSON: %m");
      free (text);
      return VC_EXIT_ERROR;
    }
  }
  else
    fputs (text, stdout);
  free (text);
  if (o->wait_synced && !synced) {
    vc_error ("virtckptd is not synced after %u s", o->wait_synced);
    return VC_EXIT_NOT_SYNCED;
  }
  return VC_EXIT_OK;
}
