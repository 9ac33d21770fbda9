/* SPDX-License-Identifier: GPL-2.0-or-later */
/* A token bucket: the limit of --max-rate on the bytes a backup reads
 * over NBD, shared by every connection and every disk of the run.
 *
 * A request may start while the bucket holds any token, and then takes
 * all its bytes, so the bucket may go below zero: requests larger than
 * the bucket still go, and the average stays at the rate.  The bucket
 * holds at most a tenth of a second of tokens, so a pause does not let
 * a burst through.
 */
#ifndef VIRTCKPT_RATE_H
#define VIRTCKPT_RATE_H

#include <stdint.h>
#include <time.h>

struct vc_rate {
  uint64_t bytes_per_second;    /* 0: no limit */
  double tokens;
  struct timespec last;
};

/* Starts the bucket with a tenth of a second of tokens. */
extern void vc_rate_init (struct vc_rate *r, uint64_t bytes_per_second);

/* 0 when a request may start now, else the milliseconds until one may. */
extern int vc_rate_wait_ms (struct vc_rate *r);

/* Takes the bytes of a request that starts. */
extern void vc_rate_take (struct vc_rate *r, uint64_t bytes);

#endif
