/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <libvirt/virterror.h>

#include "libvirt/libvirt-conn.h"
#include "common/log.h"

/* libvirt prints every error to stderr by default; we report ours once. */
static void
quiet_libvirt (void *opaque, virErrorPtr err)
{
}

virConnectPtr
vc_libvirt_try_open (const char *uri)
{
  virConnectPtr conn;

  virSetErrorFunc (NULL, quiet_libvirt);
  if (virInitialize () == -1)
    return NULL;
  conn = virConnectOpen (uri);
  if (conn)
    vc_debug ("connected to %s", uri ? uri : "libvirt's default URI");
  return conn;
}

virConnectPtr
vc_libvirt_open (const char *uri)
{
  virConnectPtr conn = vc_libvirt_try_open (uri);

  if (conn == NULL)
    vc_error ("cannot connect to libvirt%s%s: %s", uri ? " at " : "",
              uri ? uri : "", vc_libvirt_error ());
  return conn;
}

const char *
vc_libvirt_error (void)
{
  const char *msg = virGetLastErrorMessage ();
  return msg ? msg : "unknown libvirt error";
}

int
vc_libvirt_error_code (void)
{
  virErrorPtr e = virGetLastError ();
  return e ? e->code : VIR_ERR_OK;
}

virDomainPtr
vc_libvirt_domain (virConnectPtr conn, const char *name)
{
  virDomainPtr dom = virDomainLookupByName (conn, name);

  if (dom == NULL) {
    if (vc_libvirt_error_code () == VIR_ERR_NO_DOMAIN)
      vc_error ("domain '%s' is not defined on this host", name);
    else
      vc_error ("cannot look up domain '%s': %s", name, vc_libvirt_error ());
  }
  return dom;
}
