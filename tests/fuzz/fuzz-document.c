/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target: store documents.
 *
 * Any input may be rejected, but none may crash the parser, and a
 * document it accepts must survive a round trip: serialising the chain
 * and parsing the result gives the same chain back.  Documents come from
 * peers and from a store directory, so both halves matter: a chain that
 * changes on the way through would replicate as something else.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "fuzz-common.h"
#include "store/document.h"
#include "store/schedule.h"

static void
same_string (const char *what, const char *a, const char *b)
{
  if (!vc_streq (a, b))
    fuzz_fail ("round trip changed %s: '%s' became '%s'", what,
               a ? a : "(null)", b ? b : "(null)");
}

static void
same_checkpoint (const struct vc_checkpoint *a, const struct vc_checkpoint *b)
{
  same_string ("a checkpoint name", a->name, b->name);
  same_string ("a checkpoint parent", a->parent, b->parent);
  same_string ("a checkpoint's XML", a->xml, b->xml);
  if (a->created != b->created || a->disks.len != b->disks.len)
    fuzz_fail ("round trip changed checkpoint %s", a->name);
  for (size_t i = 0; i < a->disks.len; i++) {
    same_string ("a disk name", a->disks.ptr[i].name, b->disks.ptr[i].name);
    same_string ("a disk mode", a->disks.ptr[i].mode, b->disks.ptr[i].mode);
    same_string ("a bitmap", a->disks.ptr[i].bitmap, b->disks.ptr[i].bitmap);
  }
}

static void
same_chain (const struct vc_chain *a, const struct vc_chain *b)
{
  same_string ("the domain", a->domain, b->domain);
  same_string ("the uuid", a->uuid, b->uuid);
  if (memcmp (&a->version, &b->version, sizeof a->version) != 0)
    fuzz_fail ("round trip changed the version");
  if (a->updated != b->updated || a->broken != b->broken ||
      a->broken_since != b->broken_since)
    fuzz_fail ("round trip changed updated or broken");
  same_string ("the broken reason", a->broken_reason, b->broken_reason);
  if (a->checkpoints.len != b->checkpoints.len)
    fuzz_fail ("round trip changed the number of checkpoints: %zu became %zu",
               a->checkpoints.len, b->checkpoints.len);
  for (size_t i = 0; i < a->checkpoints.len; i++)
    same_checkpoint (&a->checkpoints.ptr[i], &b->checkpoints.ptr[i]);
  if ((a->schedule == NULL) != (b->schedule == NULL))
    fuzz_fail ("round trip added or lost the schedule");
  if (a->schedule) {
    const struct vc_schedule *x = a->schedule, *y = b->schedule;
    same_string ("the schedule's directory", x->dir, y->dir);
    if (x->every != y->every || x->full_every != y->full_every ||
        x->keep_last != y->keep_last || x->keep_daily != y->keep_daily ||
        x->keep_weekly != y->keep_weekly || x->keep_monthly != y->keep_monthly ||
        x->set != y->set)
      fuzz_fail ("round trip changed the schedule");
  }
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  struct vc_chain first, second;
  char *err = NULL, *text;
  size_t len;

  fuzz_quiet_logs ();
  if (vc_document_parse ((const char *) data, size, &first, &err) == -1) {
    if (err == NULL)
      fuzz_fail ("a rejected document came without a reason");
    free (err);
    return 0;
  }
  text = vc_document_format (&first, &len);
  if (text == NULL)
    fuzz_fail ("an accepted document cannot be written back");
  if (vc_document_parse (text, len, &second, &err) == -1)
    fuzz_fail ("an accepted document, written back, is rejected: %s\n%s",
               err, text);
  same_chain (&first, &second);
  free (text);
  vc_chain_clear (&first);
  vc_chain_clear (&second);
  return 0;
}
