/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "store/checkpoint-xml.h"
#include "libvirt/checkpoints.h"
#include "common/cleanup.h"
#include "libvirt/libvirt-conn.h"
#include "common/log.h"

int
vc_libvirt_chain (virDomainPtr dom, struct vc_chain *chain)
{
  virDomainCheckpointPtr *cps = NULL;
  char uuid[VIR_UUID_STRING_BUFLEN];
  int n, ret = -1;
  const char *name = virDomainGetName (dom);

  memset (chain, 0, sizeof *chain);
  if (virDomainGetUUIDString (dom, uuid) == -1) {
    vc_error ("cannot read the UUID of %s: %s", name, vc_libvirt_error ());
    return -1;
  }
  chain->domain = strdup (name);
  chain->uuid = strdup (uuid);
  if (chain->domain == NULL || chain->uuid == NULL) {
    vc_error ("out of memory");
    goto out;
  }

  n = virDomainListAllCheckpoints (dom, &cps, 0);
  if (n < 0) {
    vc_error ("cannot list the checkpoints of %s: %s", name, vc_libvirt_error ());
    goto out;
  }
  for (int i = 0; i < n; i++) {
    CLEANUP_FREE char *xml = virDomainCheckpointGetXMLDesc (cps[i], 0);
    CLEANUP_FREE char *err = NULL;
    struct vc_checkpoint c;

    if (xml == NULL) {
      vc_error ("cannot read checkpoint %s of %s: %s",
                virDomainCheckpointGetName (cps[i]), name, vc_libvirt_error ());
      goto out;
    }
    if (vc_checkpoint_parse (xml, &c, &err) == -1) {
      vc_error ("libvirt gave unreadable XML for checkpoint %s of %s: %s",
                virDomainCheckpointGetName (cps[i]), name, err);
      goto out;
    }
    if (vc_checkpoint_vector_append (&chain->checkpoints, c) == -1) {
      vc_checkpoint_clear (&c);
      vc_error ("out of memory");
      goto out;
    }
  }

  CLEANUP_FREE char *err = NULL;
  if (vc_chain_sort (chain, &err) == -1) {
    vc_error ("libvirt's checkpoints of %s do not form a chain: %s", name, err);
    goto out;
  }
  ret = 0;

 out:
  for (int i = 0; cps && cps[i]; i++)
    virDomainCheckpointFree (cps[i]);
  free (cps);
  if (ret == -1)
    vc_chain_clear (chain);
  return ret;
}
