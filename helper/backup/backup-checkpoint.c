/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <libvirt/virterror.h>

#include "backup/backup-checkpoint.h"
#include "common/log.h"
#include "common/vc-strings.h"
#include "libvirt/checkpoints.h"
#include "libvirt/libvirt-conn.h"

#define CHECKPOINT_PREFIX "virtckpt."

static inline void
cleanup_checkpoint (virDomainCheckpointPtr *cp)
{
  if (*cp)
    virDomainCheckpointFree (*cp);
}
#define CLEANUP_CHECKPOINT __attribute__ ((cleanup (cleanup_checkpoint)))

static unsigned short
random16 (void)
{
  unsigned short rnd = 0;

  if (getrandom (&rnd, sizeof rnd, 0) != sizeof rnd)
    rnd = getpid ();
  return rnd;
}

char *
vc_backup_chain_id (void)
{
  char stamp[32];
  time_t now = time (NULL);
  struct tm tm;

  gmtime_r (&now, &tm);
  strftime (stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  return vc_printf ("%s-%04x", stamp, random16 ());
}

char *
vc_backup_checkpoint_name (const char *chain, unsigned id)
{
  return vc_printf (CHECKPOINT_PREFIX "%s.%u.%04x", chain, id, random16 ());
}

bool
vc_backup_has_checkpoint (const struct vc_backup_domain *d, const char *name)
{
  CLEANUP_CHECKPOINT virDomainCheckpointPtr cp =
    virDomainCheckpointLookupByName (d->dom, name, 0);
  return cp != NULL;
}

int
vc_backup_delete_checkpoint (const struct vc_backup_domain *d, const char *name)
{
  CLEANUP_CHECKPOINT virDomainCheckpointPtr cp =
    virDomainCheckpointLookupByName (d->dom, name, 0);
  int r;

  if (cp == NULL)
    return vc_libvirt_error_code () == VIR_ERR_NO_DOMAIN_CHECKPOINT ? 0 : -1;
  r = virDomainCheckpointDelete (cp, 0);
  if (r == -1)
    vc_warn ("cannot delete checkpoint %s: %s", name, vc_libvirt_error ());
  return r;
}

char *
vc_backup_checkpoint_xml (const struct vc_backup_domain *d, const char *name)
{
  CLEANUP_CHECKPOINT virDomainCheckpointPtr cp =
    virDomainCheckpointLookupByName (d->dom, name, 0);
  return cp ? virDomainCheckpointGetXMLDesc (cp, 0) : NULL;
}

void
vc_backup_delete_older_checkpoints (const struct vc_backup_domain *d,
                                    const char *keep)
{
  virDomainCheckpointPtr *cps = NULL;
  int n = virDomainListAllCheckpoints (d->dom, &cps, 0);

  for (int i = 0; i < n; i++) {
    const char *name = virDomainCheckpointGetName (cps[i]);
    if (strncmp (name, CHECKPOINT_PREFIX, strlen (CHECKPOINT_PREFIX)) == 0 &&
        strcmp (name, keep) != 0 &&
        virDomainCheckpointDelete (cps[i], 0) == 0)
      vc_info ("removed checkpoint %s of an older chain", name);
  }
  for (int i = 0; i < n; i++)
    virDomainCheckpointFree (cps[i]);
  free (cps);
}

int
vc_backup_capture (const struct vc_backup_domain *d)
{
  struct vc_capture_result res;
  return vc_capture (d->conn, d->store, d->name, true, 0, &res);
}
