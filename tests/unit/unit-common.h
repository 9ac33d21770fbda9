/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the unit tests share: quiet logs and scratch directories. */
#ifndef VIRTCKPT_UNIT_COMMON_H
#define VIRTCKPT_UNIT_COMMON_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "common/log.h"
#include "common/vc-strings.h"

/* How many rows a table of cases has. */
#define VC_TEST_ROWS(table) (sizeof (table) / sizeof (table)[0])

/* The code under test logs the errors the tests provoke on purpose: keep
 * them out of the host's syslog, and off stderr (where they would look
 * like failures) unless VC_TEST_VERBOSE is set.
 */
static inline void
vc_test_log_init (const char *name)
{
  vc_log_init (name, getenv ("VC_TEST_VERBOSE") ? 0 : -1);
  qb_log_ctl (QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
  if (getenv ("VC_TEST_VERBOSE") == NULL)
    qb_log_ctl (QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_FALSE);
}

/* A new directory $TMPDIR/NAME-XXXXXX (malloc'd path), or NULL. */
static inline char *
vc_test_mkdtemp (const char *name)
{
  const char *tmpdir = getenv ("TMPDIR");
  char *dir = vc_printf ("%s/%s-XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp", name);

  if (dir && mkdtemp (dir) == NULL) {
    free (dir);
    return NULL;
  }
  return dir;
}

static inline int
vc_test_remove_entry (const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
  /* A test may have left a directory read-only. */
  if (flag == FTW_DP)
    chmod (path, 0700);
  return remove (path);
}

/* Removes dir and everything below it. */
static inline void
vc_test_rmtree (const char *dir)
{
  if (dir)
    nftw (dir, vc_test_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Monotonic seconds: tests that bound how long a refusal may take. */
static inline double
vc_test_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The next number of the xorshift64* sequence in *state: the same on every
 * platform, so that a random case that fails can be run again from its
 * seed.
 */
static inline uint64_t
vc_test_rng (uint64_t *state)
{
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return *state * UINT64_C (2685821657736338717);
}

#endif
