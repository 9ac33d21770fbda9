/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Pieces of a long PUT, joined per connection: see ipc-pieces.h. */
#include <config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replica/ipc-pieces.h"
#include "store/ipc-protocol.h"

void
vc_ipc_drop_pieces (qb_ipcs_connection_t *c)
{
  struct vc_ipc_pieces *p = qb_ipcs_context_get (c);

  if (p) {
    free (p->buf);
    free (p);
    qb_ipcs_context_set (c, NULL);
  }
}

int
vc_ipc_add_piece (qb_ipcs_connection_t *c, const char *data, size_t len)
{
  struct vc_ipc_pieces *p = qb_ipcs_context_get (c);
  char *buf;

  if (p == NULL) {
    if ((p = calloc (1, sizeof *p)) == NULL)
      return -ENOMEM;
    qb_ipcs_context_set (c, p);
  }
  if (p->len + len > VC_IPC_MAX_DOC) {
    vc_ipc_drop_pieces (c);
    return -EFBIG;
  }
  if ((buf = realloc (p->buf, p->len + len)) == NULL) {
    vc_ipc_drop_pieces (c);
    return -ENOMEM;
  }
  memcpy (buf + p->len, data, len);
  p->buf = buf;
  p->len += len;
  return 0;
}

struct vc_ipc_pieces *
vc_ipc_take_pieces (qb_ipcs_connection_t *c)
{
  struct vc_ipc_pieces *p = qb_ipcs_context_get (c);

  qb_ipcs_context_set (c, NULL);
  return p;
}
