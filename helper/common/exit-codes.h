/* Exit codes of virtckpt(8): documented there, relied on by the OCF agents. */
#ifndef VIRTCKPT_EXIT_CODES_H
#define VIRTCKPT_EXIT_CODES_H

enum {
  VC_EXIT_OK = 0,
  VC_EXIT_ERROR = 1,
  VC_EXIT_USAGE = 2,
  /* The checkpoint chain cannot be used: the next backup must be full. */
  VC_EXIT_CHAIN_BROKEN = 3,
};

#endif
