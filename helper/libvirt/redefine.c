/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libvirt/virterror.h>

#include "store/checkpoint-xml.h"
#include "libvirt/checkpoints.h"
#include "store/daemon-client.h"
#include "common/cleanup.h"
#include "common/exit-codes.h"
#include "libvirt/libvirt-conn.h"
#include "common/log.h"
#include "common/vc-strings.h"

/* Removes what this run redefined, newest first, so that a failure leaves
 * libvirt exactly as it was: metadata only, the bitmaps stay in the image.
 */
static void
roll_back (virDomainPtr dom, const struct vc_chain *stored,
           const size_t *done, size_t n)
{
  while (n-- > 0) {
    const char *name = stored->checkpoints.ptr[done[n]].name;
    virDomainCheckpointPtr cp = virDomainCheckpointLookupByName (dom, name, 0);
    if (cp == NULL ||
        virDomainCheckpointDelete (cp, VIR_DOMAIN_CHECKPOINT_DELETE_METADATA_ONLY) == -1)
      vc_error ("cannot undo the redefinition of checkpoint %s: %s",
                name, vc_libvirt_error ());
    else
      vc_info ("undid the redefinition of checkpoint %s", name);
    if (cp)
      virDomainCheckpointFree (cp);
  }
}

/* Redefines stored checkpoint i; returns 0, or -1 with *inconsistent set
 * when libvirt found its bitmap missing or broken.
 */
static int
redefine_one (virDomainPtr dom, const char *uuid,
              const struct vc_checkpoint *c, bool *inconsistent, char **why)
{
  CLEANUP_FREE char *err = NULL;
  CLEANUP_FREE char *xml = NULL;
  virDomainCheckpointPtr cp;
  bool dropped;

  *inconsistent = false;
  xml = vc_checkpoint_xml_for_redefine (c->xml, uuid, &dropped, &err);
  if (xml == NULL) {
    *why = vc_printf ("stored XML of checkpoint %s is unusable: %s", c->name, err);
    return -1;
  }
  if (dropped)
    vc_debug ("checkpoint %s: domain UUID changed, redefining without <domain>",
              c->name);
  cp = virDomainCheckpointCreateXML (dom, xml,
                                     VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE |
                                     VIR_DOMAIN_CHECKPOINT_CREATE_REDEFINE_VALIDATE);
  if (cp == NULL) {
    const char *msg = vc_libvirt_error ();
    *inconsistent = vc_libvirt_error_code () == VIR_ERR_CHECKPOINT_INCONSISTENT ||
      strstr (msg, "inconsistent") != NULL;
    *why = vc_printf ("checkpoint %s: %s", c->name, msg);
    return -1;
  }
  virDomainCheckpointFree (cp);
  vc_info ("redefined checkpoint %s%s", c->name,
           dropped ? " (domain UUID changed)" : "");
  return 0;
}

/* Redefining needs the domain running here: the bitmaps are in its images. */
static int
check_running (virDomainPtr dom, const char *domain)
{
  int r = virDomainIsActive (dom);

  if (r == 1)
    return 0;
  if (r == 0)
    vc_error ("domain '%s' is not running: checkpoints are redefined "
              "on the host where it runs", domain);
  else
    vc_error ("cannot query domain '%s': %s", domain, vc_libvirt_error ());
  return -1;
}

/* A replica that has not finished syncing may hold an old chain:
 * redefining it would give libvirt checkpoints the bitmaps do not match.
 */
static int
check_replica_synced (struct vc_store *store, const char *domain)
{
  const char *w = getenv ("VIRTCKPT_SYNC_WAIT");
  int s;

  if (store->daemon == NULL)
    return VC_EXIT_OK;
  s = vc_daemon_wait_synced (store->daemon, w ? atoi (w) : 30);
  if (s == 1)
    return VC_EXIT_OK;
  vc_error ("virtckptd on this node is %s: not redefining the checkpoints "
            "of %s from a replica that may be stale",
            s == 0 ? "not synced with the cluster" : "not answering", domain);
  return s == 0 ? VC_EXIT_NOT_SYNCED : VC_EXIT_ERROR;
}

static void
count_foreign (const struct vc_chain *stored, const struct vc_chain *live,
               const char *domain, struct vc_redefine_result *result)
{
  for (size_t i = 0; i < live->checkpoints.len; i++) {
    if (vc_chain_find (stored, live->checkpoints.ptr[i].name) == -1) {
      result->foreign++;
      vc_notice ("checkpoint %s of %s is not in the store: left alone",
                 live->checkpoints.ptr[i].name, domain);
    }
  }
}

/* The first failure undoes what this run redefined; a missing or
 * inconsistent bitmap also marks the stored chain broken.
 */
static int
fail_and_roll_back (virDomainPtr dom, struct vc_store *store,
                    const char *domain, const struct vc_chain *stored,
                    const size_t *done, bool inconsistent, const char *why,
                    struct vc_redefine_result *result)
{
  roll_back (dom, stored, done, result->redefined);
  result->redefined = 0;
  if (!inconsistent) {
    vc_error ("cannot redefine the checkpoints of %s: %s; nothing was "
              "redefined", domain, why ? why : "out of memory");
    return VC_EXIT_ERROR;
  }
  result->broken = true;
  vc_error ("cannot redefine the checkpoints of %s: %s; the chain is "
            "marked broken and the next backup must be full",
            domain, why ? why : "bitmap missing or inconsistent");
  if (vc_store_set_broken (store, domain, true, why ? why : "bitmap missing") == -1)
    vc_error ("could not record the broken chain of %s in the store", domain);
  return VC_EXIT_CHAIN_BROKEN;
}

/* Every stored checkpoint libvirt lacks, parents first: all or none. */
static int
redefine_missing (virDomainPtr dom, struct vc_store *store, const char *domain,
                  const struct vc_chain *stored, const struct vc_chain *live,
                  const char *uuid, struct vc_redefine_result *result)
{
  CLEANUP_FREE size_t *done = calloc (stored->checkpoints.len + 1, sizeof *done);

  if (done == NULL) {
    vc_error ("out of memory");
    return VC_EXIT_ERROR;
  }
  for (size_t i = 0; i < stored->checkpoints.len; i++) {
    const struct vc_checkpoint *c = &stored->checkpoints.ptr[i];
    CLEANUP_FREE char *why = NULL;
    bool inconsistent;

    if (vc_chain_find (live, c->name) >= 0) {
      result->present++;
      continue;
    }
    if (redefine_one (dom, uuid, c, &inconsistent, &why) == -1)
      return fail_and_roll_back (dom, store, domain, stored, done,
                                 inconsistent, why, result);
    done[result->redefined++] = i;
  }
  return VC_EXIT_OK;
}

static int
redefine_domain (virDomainPtr dom, struct vc_store *store, const char *domain,
                 struct vc_redefine_result *result)
{
  struct vc_chain stored, live;
  char uuid[VIR_UUID_STRING_BUFLEN];
  int r, ret;

  if (check_running (dom, domain) == -1)
    return VC_EXIT_ERROR;
  ret = check_replica_synced (store, domain);
  if (ret != VC_EXIT_OK)
    return ret;
  r = vc_store_load (store, domain, &stored);
  if (r == -1)
    return VC_EXIT_ERROR;
  if (r == 1) {
    vc_notice ("no checkpoints stored for %s: nothing to redefine", domain);
    return VC_EXIT_OK;
  }
  result->stored = stored.checkpoints.len;
  if (stored.broken) {
    result->broken = true;
    vc_error ("the checkpoint chain of %s is broken (%s): the next backup "
              "must be full", domain, stored.broken_reason);
    vc_chain_clear (&stored);
    return VC_EXIT_CHAIN_BROKEN;
  }

  if (vc_libvirt_chain (dom, &live) == -1) {
    vc_chain_clear (&stored);
    return VC_EXIT_ERROR;
  }
  if (virDomainGetUUIDString (dom, uuid) == -1)
    ret = VC_EXIT_ERROR;
  else {
    count_foreign (&stored, &live, domain, result);
    ret = redefine_missing (dom, store, domain, &stored, &live, uuid, result);
  }
  vc_chain_clear (&live);
  vc_chain_clear (&stored);
  return ret;
}

int
vc_redefine (virConnectPtr conn, struct vc_store *store, const char *domain,
             struct vc_redefine_result *result)
{
  virDomainPtr dom;
  int ret;

  memset (result, 0, sizeof *result);
  dom = vc_libvirt_domain (conn, domain);
  if (dom == NULL)
    return VC_EXIT_ERROR;
  ret = redefine_domain (dom, store, domain, result);
  virDomainFree (dom);
  return ret;
}
