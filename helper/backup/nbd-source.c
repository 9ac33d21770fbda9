/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "backup/nbd-source.h"

#define ALLOCATION_CONTEXT "base:allocation"
/* Largest block status request (the protocol's 32-bit length, cluster
 * aligned): one round trip per 4 GiB of disk, the fixed cost of every
 * backup.  The server may answer for less.
 */
#define MAP_WINDOW (UINT64_C (0xffff0000))

static struct nbd_handle *
connect_one (struct vc_nbd_source *s, const char *socket, const char *export)
{
  struct nbd_handle *h = nbd_create ();

  if (h == NULL ||
      nbd_set_export_name (h, export) == -1 ||
      nbd_add_meta_context (h, ALLOCATION_CONTEXT) == -1 ||
      (s->dirty_context && nbd_add_meta_context (h, s->dirty_context) == -1) ||
      nbd_connect_unix (h, socket) == -1) {
    vc_error ("cannot connect to the NBD export %s at %s: %s",
              export, socket, nbd_get_error ());
    if (h)
      nbd_close (h);
    return NULL;
  }
  return h;
}

int
vc_nbd_open (struct vc_nbd_source *s, const char *socket, const char *export,
             const char *dirty_context, unsigned connections)
{
  int64_t size;

  memset (s, 0, sizeof *s);
  s->label = strdup (export);
  s->dirty_context = dirty_context ? strdup (dirty_context) : NULL;
  if (s->label == NULL || (dirty_context && s->dirty_context == NULL)) {
    vc_error ("out of memory");
    goto fail;
  }
  s->h[0] = connect_one (s, socket, export);
  if (s->h[0] == NULL)
    goto fail;
  s->connections = 1;

  if (nbd_can_meta_context (s->h[0], ALLOCATION_CONTEXT) != 1 ||
      (dirty_context && nbd_can_meta_context (s->h[0], dirty_context) != 1)) {
    vc_error ("the NBD export %s does not offer %s", export,
              dirty_context ? dirty_context : ALLOCATION_CONTEXT);
    goto fail;
  }
  size = nbd_get_size (s->h[0]);
  if (size < 0) {
    vc_error ("cannot read the size of %s: %s", export, nbd_get_error ());
    goto fail;
  }
  s->size = size;

  if (connections > VC_NBD_MAX_CONNECTIONS)
    connections = VC_NBD_MAX_CONNECTIONS;
  if (connections > 1 && nbd_can_multi_conn (s->h[0]) != 1) {
    vc_debug ("%s: server does not allow multi-conn; using one connection",
              export);
    connections = 1;
  }
  while (s->connections < connections) {
    s->h[s->connections] = connect_one (s, socket, export);
    if (s->h[s->connections] == NULL)
      goto fail;
    s->connections++;
  }
  vc_debug ("%s: %" PRIu64 " bytes, %u connection%s", export, s->size,
            s->connections, s->connections == 1 ? "" : "s");
  return 0;

 fail:
  vc_nbd_close (s);
  return -1;
}

void
vc_nbd_close (struct vc_nbd_source *s)
{
  for (unsigned i = 0; i < VC_NBD_MAX_CONNECTIONS; i++) {
    if (s->h[i]) {
      nbd_shutdown (s->h[i], 0);
      nbd_close (s->h[i]);
      s->h[i] = NULL;
    }
  }
  free (s->label);
  free (s->dirty_context);
  s->label = s->dirty_context = NULL;
  s->connections = 0;
}

/* Block status requests in flight while mapping: QEMU answers them side
 * by side, and a large disk's map is hundreds of round trips.
 */
#define MAP_DEPTH 8

/* One MAP_WINDOW of the disk, asked for in order (again from where the
 * answer stopped, when the server answered for less).
 */
struct map_window {
  uint64_t next, end;
  vc_range_vector nonzero, dirty;
};

/* One request's answer, until both contexts are merged into its window. */
struct map_round {
  struct vc_nbd_source *s;
  vc_range_vector nonzero, dirty;
  uint64_t covered_alloc, covered_dirty;  /* end of what each context told */
  uint64_t limit;                         /* the window's end */
  int err;
};

struct map_slot {
  struct map_round r;
  struct map_window *w;
  uint64_t offset;
  int64_t cookie;               /* 0: free */
};

static int
map_extents (void *opaque, const char *context, uint64_t offset,
             uint32_t *entries, size_t nr, int *error)
{
  struct map_round *r = opaque;
  bool alloc = strcmp (context, ALLOCATION_CONTEXT) == 0;
  bool dirty = r->s->dirty_context && strcmp (context, r->s->dirty_context) == 0;
  uint64_t pos = offset;

  if (!alloc && !dirty)
    return 0;
  for (size_t i = 0; i + 1 < nr && pos < r->limit; i += 2) {
    uint64_t len = entries[i];
    uint32_t flags = entries[i + 1];
    if (pos + len > r->limit)
      len = r->limit - pos;
    if (alloc && !(flags & LIBNBD_STATE_ZERO) &&
        vc_ranges_add (&r->nonzero, pos, len) == -1)
      r->err = ENOMEM;
    if (dirty && (flags & 1) && vc_ranges_add (&r->dirty, pos, len) == -1)
      r->err = ENOMEM;
    pos += len;
  }
  if (alloc)
    r->covered_alloc = pos;
  else
    r->covered_dirty = pos;
  return 0;
}

/* Adds the part of round below end to to: past end, the other context
 * has not been heard from yet, so it is asked again next round.
 */
static int
add_until (vc_range_vector *to, const vc_range_vector *round, uint64_t end)
{
  for (size_t i = 0; i < round->len; i++) {
    struct vc_range x = round->ptr[i];
    if (x.offset >= end)
      break;
    if (x.offset + x.length > end)
      x.length = end - x.offset;
    if (vc_ranges_add (to, x.offset, x.length) == -1)
      return -1;
  }
  return 0;
}

static int
map_ask (struct vc_nbd_source *s, struct map_slot *slot, struct map_window *w)
{
  uint64_t count = w->end - w->next;

  slot->w = w;
  slot->offset = w->next;
  slot->r = (struct map_round) {
    .s = s, .covered_alloc = w->next,
    .covered_dirty = s->dirty_context ? w->next : UINT64_MAX,
    .limit = w->end,
  };
  slot->cookie = nbd_aio_block_status (s->h[0], count, w->next,
                                       (nbd_extent_callback) { .callback = map_extents,
                                                               .user_data = &slot->r },
                                       NBD_NULL_COMPLETION, 0);
  if (slot->cookie == -1) {
    vc_error ("block status of %s at %" PRIu64 ": %s", s->label, w->next,
              nbd_get_error ());
    slot->cookie = 0;
    return -1;
  }
  return 0;
}

/* Merges a finished request into its window.  Each answer may cover
 * different lengths per context: ranges past the shorter one are dropped
 * and asked again from there, so both lists stay sorted.
 */
static int
map_merge (struct vc_nbd_source *s, struct map_slot *slot, bool want_dirty)
{
  struct map_round *r = &slot->r;
  uint64_t end = r->covered_alloc < r->covered_dirty ? r->covered_alloc : r->covered_dirty;

  if (end <= slot->offset)
    r->err = EIO;               /* no progress: refuse to loop forever */
  if (!r->err && (add_until (&slot->w->nonzero, &r->nonzero, end) == -1 ||
                  (want_dirty && add_until (&slot->w->dirty, &r->dirty, end) == -1)))
    r->err = ENOMEM;
  vc_range_vector_reset (&r->nonzero);
  vc_range_vector_reset (&r->dirty);
  if (r->err) {
    errno = r->err;
    vc_error ("block status of %s at %" PRIu64 ": %m", s->label, slot->offset);
    return -1;
  }
  slot->w->next = end;
  return 0;
}

static int
concat (vc_range_vector *to, const vc_range_vector *from)
{
  for (size_t i = 0; i < from->len; i++)
    if (vc_ranges_add (to, from->ptr[i].offset, from->ptr[i].length) == -1)
      return -1;
  return 0;
}

int
vc_nbd_map (struct vc_nbd_source *s, vc_range_vector *nonzero,
            vc_range_vector *dirty)
{
  size_t nwin = s->size / MAP_WINDOW + (s->size % MAP_WINDOW != 0);
  struct map_window *win = calloc (nwin ? nwin : 1, sizeof *win);
  /* On the heap: a request in flight points at its slot. */
  struct map_slot *slot = calloc (MAP_DEPTH, sizeof *slot);
  size_t next_win = 0, busy = 0;
  bool failed = false;

  if (win == NULL || slot == NULL) {
    vc_error ("out of memory");
    free (win);
    free (slot);
    return -1;
  }
  for (size_t i = 0; i < nwin; i++) {
    win[i].next = i * MAP_WINDOW;
    win[i].end = s->size - win[i].next < MAP_WINDOW ? s->size : win[i].next + MAP_WINDOW;
  }

  /* Each slot keeps its window until the window is told whole, then takes
   * the next one.  After a failure, what is in flight is still collected,
   * so that the handle is left idle for the copy's caller to close.
   */
  for (;;) {
    for (unsigned i = 0; i < MAP_DEPTH && !failed; i++) {
      if (slot[i].cookie != 0)
        continue;
      struct map_window *w = slot[i].w;
      if (w == NULL || w->next >= w->end) {
        if (next_win == nwin)
          continue;
        w = &win[next_win++];
      }
      if (map_ask (s, &slot[i], w) == -1)
        failed = true;
      else
        busy++;
    }
    if (busy == 0)
      break;
    if (nbd_poll (s->h[0], -1) == -1) {
      /* A signal, where libnbd does not wait again itself: the caller
       * looks at it after the map.
       */
      if (nbd_get_errno () == EINTR)
        continue;
      vc_error ("block status of %s: %s", s->label, nbd_get_error ());
      /* The requests still in flight point at the slots: left to them,
       * on a handle no one can use any more.
       */
      slot = NULL;
      failed = true;
      break;
    }
    for (unsigned i = 0; i < MAP_DEPTH; i++) {
      if (slot[i].cookie == 0)
        continue;
      int done = nbd_aio_command_completed (s->h[0], slot[i].cookie);
      if (done == 0)
        continue;
      slot[i].cookie = 0;
      busy--;
      if (done == -1) {
        if (!failed)
          vc_error ("block status of %s at %" PRIu64 ": %s", s->label,
                    slot[i].offset, nbd_get_error ());
        failed = true;
      }
      else if (!failed && map_merge (s, &slot[i], dirty != NULL) == -1)
        failed = true;
      vc_range_vector_reset (&slot[i].r.nonzero);
      vc_range_vector_reset (&slot[i].r.dirty);
    }
  }

  for (size_t i = 0; i < nwin; i++) {
    if (!failed && (concat (nonzero, &win[i].nonzero) == -1 ||
                    (dirty && concat (dirty, &win[i].dirty) == -1))) {
      vc_error ("out of memory");
      failed = true;
    }
    vc_range_vector_reset (&win[i].nonzero);
    vc_range_vector_reset (&win[i].dirty);
  }
  free (win);
  free (slot);
  return failed ? -1 : 0;
}
