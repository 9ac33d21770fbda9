/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Progress of long work on a terminal: bytes, rate, time left. */
#ifndef VIRTCKPT_PROGRESS_H
#define VIRTCKPT_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct vc_progress {
  bool enabled, shown;
  uint64_t done, total;
  struct timespec start, last;
};

extern void vc_progress_start (struct vc_progress *p, uint64_t total, bool enabled);
extern void vc_progress_add (struct vc_progress *p, uint64_t bytes);
/* Ends the progress line, if one was shown. */
extern void vc_progress_finish (struct vc_progress *p);

#endif
