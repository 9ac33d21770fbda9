/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Talking to libvirt: connection and error reporting. */
#ifndef VIRTCKPT_LIBVIRT_CONN_H
#define VIRTCKPT_LIBVIRT_CONN_H

#include <libvirt/libvirt.h>

/* Opens uri (NULL: libvirt's default).  Logs and returns NULL on failure. */
extern virConnectPtr vc_libvirt_open (const char *uri);
/* The same, saying nothing: for a caller to whom libvirt is optional
 * (vc_libvirt_error () says why).
 */
extern virConnectPtr vc_libvirt_try_open (const char *uri);

/* libvirt's last error message, never NULL. */
extern const char *vc_libvirt_error (void);
extern int vc_libvirt_error_code (void);

/* Looks up a domain by name; logs "not defined on this host" or the
 * libvirt error and returns NULL.
 */
extern virDomainPtr vc_libvirt_domain (virConnectPtr conn, const char *name);

#endif
