/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "backup/restore-map.h"
#include "common/cleanup.h"

#define CS VC_QCOW2_CLUSTER_SIZE

static const char NO_MEMORY[] = "there is not enough memory to map it";

static int
add_run (vc_run_vector *v, uint64_t host, uint64_t guest, uint64_t rank)
{
  if (v->len) {
    struct vc_run *last = &v->ptr[v->len - 1];
    if (last->host + last->length == host && last->guest + last->length == guest) {
      last->length += CS;
      return 0;
    }
  }
  return vc_run_vector_append (v, (struct vc_run) { host, guest, rank, CS });
}

/* The place of guest cluster i of L2 table t: the first link, from the
 * top, that does not leave it unallocated.  Loads tables on demand.
 */
static const char *
one_cluster (struct vc_qcow2_image *links, size_t n, uint64_t t, uint64_t i,
             uint64_t *maps, bool *loaded, struct vc_chain_map *map,
             size_t *bad)
{
  uint64_t guest = t * VC_QCOW2_L2_COVERS + i * CS;

  for (size_t k = 0; k < n; k++) {
    uint64_t *m = maps + k * VC_QCOW2_L2_ENTRIES;
    const char *why;

    if (guest >= links[k].virtual_size)  /* past the end of a backing */
      return vc_ranges_add (&map->zero, guest, CS) == -1 ? NO_MEMORY : NULL;
    if (!loaded[k]) {
      if ((why = vc_qcow2_read_l2 (&links[k], t, m)) != NULL) {
        *bad = k;
        return why;
      }
      loaded[k] = true;
    }
    if (m[i] == VC_QCOW2_UNALLOCATED)
      continue;
    if (m[i] == VC_QCOW2_ZERO)
      return vc_ranges_add (&map->zero, guest, CS) == -1 ? NO_MEMORY : NULL;
    if (add_run (&map->runs[k], m[i], guest, map->data_clusters) == -1 ||
        vc_ranges_add (&map->data, guest, CS) == -1)
      return NO_MEMORY;
    map->data_clusters++;
    return NULL;
  }
  return NULL;
}

/* No link has an L2 table for t: nothing there but zeroes. */
static bool
empty_table (const struct vc_qcow2_image *links, size_t n, uint64_t t)
{
  for (size_t k = 0; k < n; k++)
    if (t < links[k].l1_entries && links[k].l1[t] != 0)
      return false;
  return true;
}

static int
by_host (const void *a, const void *b)
{
  const struct vc_run *x = a, *y = b;
  return x->host < y->host ? -1 : x->host > y->host;
}

static bool
disjoint (const vc_run_vector *v)
{
  for (size_t j = 1; j < v->len; j++)
    if (v->ptr[j].host < v->ptr[j - 1].host + v->ptr[j - 1].length)
      return false;
  return true;
}

const char *
vc_chain_map_build (struct vc_qcow2_image *links, size_t n,
                    struct vc_chain_map *map, size_t *bad)
{
  CLEANUP_FREE uint64_t *maps = NULL;
  CLEANUP_FREE bool *loaded = NULL;
  uint64_t tables;
  const char *why;

  memset (map, 0, sizeof *map);
  *bad = 0;
  if (n == 0)
    return "the chain is empty";
  map->runs = calloc (n, sizeof *map->runs);
  maps = malloc (n * VC_QCOW2_CLUSTER_SIZE);
  loaded = calloc (n, sizeof *loaded);
  if (map->runs == NULL || maps == NULL || loaded == NULL)
    return NO_MEMORY;
  map->virtual_size = links[0].virtual_size;
  tables = links[0].l1_entries;
  for (uint64_t t = 0; t < tables; t++) {
    if (empty_table (links, n, t))
      continue;
    memset (loaded, 0, n * sizeof *loaded);
    for (uint64_t i = 0; i < VC_QCOW2_L2_ENTRIES; i++) {
      if (t * VC_QCOW2_L2_COVERS + i * CS >= map->virtual_size)
        break;
      if ((why = one_cluster (links, n, t, i, maps, loaded, map, bad)) != NULL)
        return why;
    }
  }
  for (size_t k = 0; k < n; k++) {
    vc_run_vector *v = &map->runs[k];
    qsort (v->ptr, v->len, sizeof *v->ptr, by_host);
    if (!disjoint (v)) {
      *bad = k;
      return "two guest clusters share a host cluster";
    }
  }
  return NULL;
}

void
vc_chain_map_clear (struct vc_chain_map *map, size_t n)
{
  if (map->runs)
    for (size_t k = 0; k < n; k++)
      vc_run_vector_reset (&map->runs[k]);
  free (map->runs);
  vc_range_vector_reset (&map->data);
  vc_range_vector_reset (&map->zero);
  memset (map, 0, sizeof *map);
}
