/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The store's remote transport, driven from the command line for
 * tests/remote/relay.sh:
 *   remote-client SERVER[,SERVER...] STEP...
 * Steps, in order, on one connection:
 *   status | list | get FILE | put DOMAIN FILE | forget DOMAIN |
 *   lease DOMAIN JOB | server | wait:PATH (until PATH exists)
 * Exit: 0; 1 a step failed; 3 a key refused, 4 no key here, 5 every
 * server stale, 6 none reachable (vc_daemon_connect_remote's errno).
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "store/daemon-client.h"

static char *
slurp (const char *path, size_t *len)
{
  FILE *fp = fopen (path, "r");
  char *buf = NULL;
  size_t cap = 0;

  *len = 0;
  if (fp == NULL)
    return NULL;
  for (;;) {
    if (*len == cap && (buf = realloc (buf, cap = cap * 2 + 4096)) == NULL)
      break;
    size_t n = fread (buf + *len, 1, cap - *len, fp);
    if (n == 0)
      break;
    *len += n;
  }
  fclose (fp);
  return buf;
}

int
main (int argc, char **argv)
{
  const char *servers[16];
  size_t n = 0;
  struct vc_daemon *d;
  char *list;

  vc_log_init ("remote-client", 0);
  if (argc < 2) {
    fprintf (stderr, "usage: remote-client SERVER[,SERVER...] STEP...\n");
    return 2;
  }
  list = strdup (argv[1]);
  for (char *s = strtok (list, ","); s && n < 16; s = strtok (NULL, ","))
    servers[n++] = s;
  d = vc_daemon_connect_remote (servers, n);
  if (d == NULL) {
    int e = errno;
    fprintf (stderr, "remote-client: %s\n", vc_daemon_unreachable (e));
    free (list);
    return e == EKEYREJECTED ? 3 : e == ENOKEY ? 4 : e == ESTALE ? 5 : 6;
  }
  for (int i = 2; i < argc; i++) {
    const char *step = argv[i];
    int ok = 1;

    if (strcmp (step, "status") == 0) {
      char *t = vc_daemon_status (d);
      ok = t != NULL;
      if (t)
        fputs (t, stdout);
      free (t);
    }
    else if (strcmp (step, "server") == 0)
      printf ("server: %s\n", vc_daemon_server (d) ? vc_daemon_server (d) : "-");
    else if (strcmp (step, "list") == 0) {
      char **names;
      size_t k;
      ok = vc_daemon_list_files (d, &names, &k) == 0;
      for (size_t j = 0; ok && j < k; j++) {
        printf ("%s\n", names[j]);
        free (names[j]);
      }
      if (ok)
        free (names);
    }
    else if (strcmp (step, "get") == 0 && i + 1 < argc) {
      char *t;
      size_t len;
      int r = vc_daemon_get_file (d, argv[++i], &t, &len);
      if (r == 1)
        fprintf (stderr, "remote-client: no %s\n", argv[i]);
      ok = r == 0;
      if (ok)
        fwrite (t, 1, len, stdout);
      free (t);
    }
    else if (strcmp (step, "put") == 0 && i + 2 < argc) {
      size_t len;
      char *t = slurp (argv[i + 2], &len);
      ok = t && vc_daemon_put (d, argv[i + 1], t, len) == 0;
      free (t);
      i += 2;
    }
    else if (strcmp (step, "forget") == 0 && i + 1 < argc)
      ok = vc_daemon_forget (d, argv[++i]) == 0;
    else if (strcmp (step, "lease") == 0 && i + 2 < argc) {
      char *why = NULL;
      ok = vc_daemon_lease (d, argv[i + 1], argv[i + 2], &why) == 0;
      if (!ok)
        fprintf (stderr, "remote-client: lease: %s\n", why ? why : strerror (errno));
      free (why);
      i += 2;
    }
    else if (strncmp (step, "wait:", 5) == 0) {
      for (int t = 0; t < 1200 && access (step + 5, F_OK) == -1; t++)
        usleep (100 * 1000);
    }
    else {
      fprintf (stderr, "remote-client: unknown step %s\n", step);
      ok = 0;
    }
    fflush (stdout);
    if (!ok) {
      fprintf (stderr, "remote-client: %s failed\n", step);
      vc_daemon_close (d);
      free (list);
      return 1;
    }
  }
  vc_daemon_close (d);
  free (list);
  return 0;
}
