/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "store/doc-files.h"
#include "store/name-map.h"

bool
vc_doc_file_name_ok (const char *file)
{
  size_t len = strlen (file);

  return len > 0 && len <= NAME_MAX && file[0] != '.' &&
    strchr (file, '/') == NULL && vc_file_kind (file) != VC_FILE_OTHER;
}

int
vc_doc_file_read (int dirfd, const char *file, size_t max, char **text,
                  size_t *len)
{
  struct stat st;
  size_t got = 0;
  ssize_t n;
  int fd, e;

  *text = NULL;
  *len = 0;
  if (!vc_doc_file_name_ok (file)) {
    errno = EINVAL;
    return -1;
  }
  /* No symlink, no FIFO to block on: documents are regular files. */
  fd = openat (dirfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
  if (fd == -1)
    return errno == ENOENT ? 1 : (errno == ELOOP ? (errno = EINVAL, -1) : -1);
  if (fstat (fd, &st) == -1)
    goto fail;
  if (!S_ISREG (st.st_mode)) {
    errno = EINVAL;
    goto fail;
  }
  if ((uintmax_t) st.st_size > max) {
    errno = EFBIG;
    goto fail;
  }
  /* The size as read: a document replaced meanwhile is a new file. */
  *text = malloc (st.st_size + 1);
  if (*text == NULL)
    goto fail;
  while (got < (size_t) st.st_size &&
         ((n = read (fd, *text + got, st.st_size - got)) > 0 ||
          (n == -1 && errno == EINTR)))
    if (n > 0)
      got += n;
  (*text)[got] = '\0';
  *len = got;
  close (fd);
  return 0;

 fail:
  e = errno;
  free (*text);
  *text = NULL;
  close (fd);
  errno = e;
  return -1;
}

int
vc_doc_file_list (int dirfd, size_t max, char **text, size_t *len)
{
  int fd = dup (dirfd);
  DIR *d;
  struct dirent *de;
  FILE *fp;
  int e = 0;

  *text = NULL;
  *len = 0;
  if (fd == -1)
    return -1;
  d = fdopendir (fd);
  if (d == NULL) {
    e = errno;
    close (fd);
    errno = e;
    return -1;
  }
  rewinddir (d);
  fp = open_memstream (text, len);
  if (fp == NULL) {
    e = errno;
    closedir (d);
    errno = e;
    return -1;
  }
  while ((de = readdir (d)) != NULL) {
    struct stat st;
    if (!vc_doc_file_name_ok (de->d_name))
      continue;
    if (de->d_type != DT_REG &&
        (de->d_type != DT_UNKNOWN ||
         fstatat (dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
         !S_ISREG (st.st_mode)))
      continue;
    fprintf (fp, "%s\n", de->d_name);
    if ((size_t) ftell (fp) > max) {
      e = EFBIG;
      break;
    }
  }
  closedir (d);
  if (fclose (fp) != 0 && e == 0)
    e = ENOMEM;
  if (e) {
    free (*text);
    *text = NULL;
    *len = 0;
    errno = e;
    return -1;
  }
  return 0;
}

void
vc_doc_file_names_free (char **names, size_t n)
{
  for (size_t i = 0; names && i < n; i++)
    free (names[i]);
  free (names);
}

int
vc_doc_file_names_parse (const char *text, size_t len, char ***names, size_t *n,
                         const char **bad)
{
  size_t count = 0;

  *names = NULL;
  *n = 0;
  *bad = NULL;
  if (memchr (text, '\0', len) != NULL || (len > 0 && text[len - 1] != '\n')) {
    errno = EPROTO;
    return -1;
  }
  for (size_t i = 0; i < len; i++)
    count += text[i] == '\n';
  *names = calloc (count + 1, sizeof **names);
  if (*names == NULL)
    return -1;
  for (const char *p = text, *end = text + len; p < end; ) {
    const char *nl = memchr (p, '\n', end - p);
    char *name = strndup (p, nl - p);
    if (name == NULL)
      goto fail;
    if (!vc_doc_file_name_ok (name)) {
      free (name);
      *bad = p;
      errno = EPROTO;
      goto fail;
    }
    (*names)[(*n)++] = name;
    p = nl + 1;
  }
  return 0;

 fail:;
  int e = errno;
  vc_doc_file_names_free (*names, *n);
  *names = NULL;
  *n = 0;
  errno = e;
  return -1;
}
