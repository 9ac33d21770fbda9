/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests of helper/remote/remote.c and helper/store/doc-files.c: the
 * limits on frames from an untrusted peer, the authkey's checks and the
 * key derived from it, server names, the relay's file names, and a TLS
 * session over a socket pair (same key, other key, an oversized frame).
 */
#include <config.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <nettle/hmac.h>

#include "remote/remote.h"
#include "remote/remote-protocol.h"
#include "store/doc-files.h"
#include "common/vc-strings.h"
#include "unit-common.h"

static void
test_header_limits (void **state)
{
  unsigned char h[VC_REMOTE_HEADER_LEN];
  uint32_t len, word;

  vc_remote_put_header (h, 0x01020304, 0xfffffff3);
  assert_memory_equal (h, "\x01\x02\x03\x04\xff\xff\xff\xf3", 8);
  assert_int_equal (vc_remote_parse_header (h, 0x01020304, &len, &word), 0);
  assert_int_equal (len, 0x01020304);
  assert_int_equal ((int32_t) word, -13);
  /* One byte over the limit, the largest u32: refused before any malloc. */
  errno = 0;
  assert_int_equal (vc_remote_parse_header (h, 0x01020303, &len, &word), -1);
  assert_int_equal (errno, EPROTO);
  vc_remote_put_header (h, UINT32_MAX, 1);
  assert_int_equal (vc_remote_parse_header (h, VC_REMOTE_MAX_REPLY, &len, &word), -1);
  vc_remote_put_header (h, 0, 1);
  assert_int_equal (vc_remote_parse_header (h, 0, &len, &word), 0);

  assert_true (vc_remote_error_ok (0));
  assert_true (vc_remote_error_ok (-ESTALE));
  assert_true (vc_remote_error_ok (-4095));
  assert_false (vc_remote_error_ok (-4096));
  assert_false (vc_remote_error_ok (1));
  assert_false (vc_remote_error_ok (INT32_MIN));
}

static const struct {
  mode_t mode;
  uid_t uid;
  off_t size;
  const char *why;              /* NULL: accepted */
} stat_rows[] = {
  { S_IFREG | 0640, 0, 4096, NULL },
  { S_IFREG | 0600, 0, 1, NULL },
  { S_IFREG | 0440, 0, 256, NULL },
  { S_IFREG | 0644, 0, 4096, "readable by others" },
  { S_IFREG | 0660, 0, 4096, "writable by its group" },
  { S_IFREG | 0642, 0, 4096, "writable by others" },
  { S_IFREG | 0640, 1000, 4096, "owned by uid 1000, not root" },
  { S_IFREG | 0640, 0, 0, "is empty" },
  { S_IFREG | 0640, 0, 4097, "4097 bytes, more than the 4096" },
  { S_IFDIR | 0750, 0, 4096, "not a regular file" },
  { S_IFIFO | 0600, 0, 0, "not a regular file" },
};

static void
test_key_stat (void **state)
{
  for (size_t i = 0; i < VC_TEST_ROWS (stat_rows); i++) {
    struct stat st = { .st_mode = stat_rows[i].mode, .st_uid = stat_rows[i].uid,
                       .st_size = stat_rows[i].size };
    char why[256] = "";
    bool ok = vc_remote_key_stat_ok (&st, "/k", why, sizeof why);

    assert_int_equal (ok, stat_rows[i].why == NULL);
    if (!ok) {
      assert_non_null (strstr (why, stat_rows[i].why));
      assert_non_null (strstr (why, "/k"));     /* names the file */
    }
  }
}

static char *
write_key (const char *dir, const char *name, const void *buf, size_t len,
           mode_t mode)
{
  char *path = vc_printf ("%s/%s", dir, name);
  int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

  assert_true (fd >= 0);
  assert_int_equal (write (fd, buf, len), (ssize_t) len);
  assert_int_equal (fchmod (fd, mode), 0);
  close (fd);
  return path;
}

static void
test_key_load (void **state)
{
  char *dir = vc_test_mkdtemp ("test-remote");
  unsigned char key[4097], psk[VC_REMOTE_PSK_LEN], want[VC_REMOTE_PSK_LEN];
  struct hmac_sha256_ctx ctx;
  char why[512];
  char *p;

  for (size_t i = 0; i < sizeof key; i++)
    key[i] = i * 7 + 3;
  p = write_key (dir, "good", key, 4096, 0640);
  if (geteuid () != 0) {
    free (p);
    vc_test_rmtree (dir);
    free (dir);
    skip ();
  }
  assert_int_equal (vc_remote_load_psk (p, psk, why, sizeof why), 0);
  hmac_sha256_set_key (&ctx, 4096, key);
  hmac_sha256_update (&ctx, strlen (VC_REMOTE_KEY_LABEL),
                      (const uint8_t *) VC_REMOTE_KEY_LABEL);
  hmac_sha256_digest (&ctx, sizeof want, want);
  assert_memory_equal (psk, want, sizeof psk);
  free (p);

  p = write_key (dir, "big", key, 4097, 0600);
  assert_int_equal (vc_remote_load_psk (p, psk, why, sizeof why), -1);
  assert_int_equal (errno, EPERM);
  assert_non_null (strstr (why, "4097 bytes"));
  free (p);
  p = write_key (dir, "empty", key, 0, 0600);
  assert_int_equal (vc_remote_load_psk (p, psk, why, sizeof why), -1);
  assert_non_null (strstr (why, "empty"));
  free (p);
  p = write_key (dir, "open", key, 64, 0644);
  assert_int_equal (vc_remote_load_psk (p, psk, why, sizeof why), -1);
  assert_non_null (strstr (why, "readable by others"));
  assert_non_null (strstr (why, p));
  assert_int_equal (chmod (p, 0600), 0);
  assert_int_equal (chown (p, 65534, 0), 0);
  assert_int_equal (vc_remote_load_psk (p, psk, why, sizeof why), -1);
  assert_non_null (strstr (why, "owned by uid 65534"));
  free (p);
  p = vc_printf ("%s/none", dir);
  assert_int_equal (vc_remote_load_psk (p, psk, why, sizeof why), -1);
  assert_int_equal (errno, ENOENT);
  assert_non_null (strstr (why, "no authkey "));
  assert_non_null (strstr (why, p));
  assert_int_equal (vc_remote_load_psk (dir, psk, why, sizeof why), -1);
  assert_non_null (strstr (why, "not a regular file"));
  free (p);
  vc_test_rmtree (dir);
  free (dir);
}

static void
test_authkey_path (void **state)
{
  unsetenv ("VIRTCKPT_AUTHKEY");
  unsetenv ("PCMK_authkey_location");
  assert_string_equal (vc_remote_authkey_path (), VC_REMOTE_DEFAULT_AUTHKEY);
  setenv ("PCMK_authkey_location", "/p", 1);
  assert_string_equal (vc_remote_authkey_path (), "/p");
  setenv ("VIRTCKPT_AUTHKEY", "/v", 1);
  assert_string_equal (vc_remote_authkey_path (), "/v");
  unsetenv ("VIRTCKPT_AUTHKEY");
  unsetenv ("PCMK_authkey_location");
}

static const struct {
  const char *in, *host, *port;
} server_rows[] = {
  { "n1", "n1", "3122" },
  { "n1:4000", "n1", "4000" },
  { "198.18.0.11", "198.18.0.11", "3122" },
  { "[fe80::1]", "fe80::1", "3122" },
  { "[::1]:65535", "::1", "65535" },
  { "::1", NULL, NULL },
  { "n1:", NULL, NULL },
  { ":3122", NULL, NULL },
  { "n1:0", NULL, NULL },
  { "n1:65536", NULL, NULL },
  { "n1:-1", NULL, NULL },
  { "n1:12x", NULL, NULL },
  { "[::1", NULL, NULL },
  { "[::1]x", NULL, NULL },
  { "", NULL, NULL },
};

static void
test_parse_server (void **state)
{
  for (size_t i = 0; i < VC_TEST_ROWS (server_rows); i++) {
    char *h, *p;
    int r = vc_remote_parse_server (server_rows[i].in, &h, &p);
    if (server_rows[i].host == NULL) {
      assert_int_equal (r, -1);
      continue;
    }
    assert_int_equal (r, 0);
    assert_string_equal (h, server_rows[i].host);
    assert_string_equal (p, server_rows[i].port);
    free (h);
    free (p);
  }
}

static void
test_doc_names (void **state)
{
  char longname[300];

  assert_true (vc_doc_file_name_ok ("vm1.xml"));
  assert_true (vc_doc_file_name_ok ("web%2001.xml"));
  assert_false (vc_doc_file_name_ok (""));
  assert_false (vc_doc_file_name_ok ("../vm1.xml"));
  assert_false (vc_doc_file_name_ok ("a/vm1.xml"));
  assert_false (vc_doc_file_name_ok (".vm1.xml"));
  assert_false (vc_doc_file_name_ok (".lock"));
  assert_false (vc_doc_file_name_ok ("vm1.xml.tmp"));
  memset (longname, 'a', sizeof longname);
  strcpy (longname + 280, ".xml");
  assert_false (vc_doc_file_name_ok (longname));
}

static void
test_doc_read (void **state)
{
  char *dir = vc_test_mkdtemp ("test-remote");
  int dfd = open (dir, O_RDONLY | O_DIRECTORY);
  char *text, *p;
  size_t len;

  p = write_key (dir, "vm1.xml", "<a/>\n", 5, 0644);
  free (p);
  assert_int_equal (vc_doc_file_read (dfd, "vm1.xml", 5, &text, &len), 0);
  assert_int_equal (len, 5);
  assert_string_equal (text, "<a/>\n");
  free (text);
  assert_int_equal (vc_doc_file_read (dfd, "vm1.xml", 4, &text, &len), -1);
  assert_int_equal (errno, EFBIG);
  assert_int_equal (vc_doc_file_read (dfd, "vm2.xml", 5, &text, &len), 1);
  assert_int_equal (vc_doc_file_read (dfd, "../vm1.xml", 5, &text, &len), -1);
  assert_int_equal (errno, EINVAL);
  /* A symlink or a FIFO is no document. */
  assert_int_equal (symlinkat ("/etc/passwd", dfd, "vm3.xml"), 0);
  assert_int_equal (vc_doc_file_read (dfd, "vm3.xml", 1 << 20, &text, &len), -1);
  assert_int_equal (errno, EINVAL);
  assert_int_equal (mkfifoat (dfd, "vm4.xml", 0600), 0);
  assert_int_equal (vc_doc_file_read (dfd, "vm4.xml", 1 << 20, &text, &len), -1);
  assert_int_equal (vc_doc_file_list (dfd, 1 << 20, &text, &len), 0);
  assert_string_equal (text, "vm1.xml\n");
  free (text);
  assert_int_equal (vc_doc_file_list (dfd, 4, &text, &len), -1);
  assert_int_equal (errno, EFBIG);
  close (dfd);
  vc_test_rmtree (dir);
  free (dir);
}

/* A LIST reply as a remote node reads it: every name a document's, every
 * name ended by '\n', no NUL; a refusal names the bad line.
 */
static void
test_doc_names_parse (void **state)
{
  static const struct {
    const char *text;
    size_t len;
    int ok;                     /* names accepted, or -1 */
    int bad_at;                 /* offset of the bad name, -1 none */
  } cases[] = {
    { "", 0, 0, -1 },
    { "vm1.xml\n", 8, 1, -1 },
    { "vm1.xml\nweb%2001.xml\n", 21, 2, -1 },
    { "vm1.xml", 7, -1, -1 },                 /* no end of line */
    { "vm1.xml\n../x.xml\n", 17, -1, 8 },    /* a path */
    { "vm1.xml\n\n", 9, -1, 8 },             /* an empty name */
    { "vm1.xml\n.lock\n", 14, -1, 8 },
    { "vm1.xml\0vm2.xml\n", 16, -1, -1 },    /* a NUL inside */
  };

  for (size_t i = 0; i < VC_TEST_ROWS (cases); i++) {
    char **names;
    size_t n;
    const char *bad;
    int r = vc_doc_file_names_parse (cases[i].text, cases[i].len, &names, &n, &bad);
    if (cases[i].ok >= 0) {
      assert_int_equal (r, 0);
      assert_int_equal (n, cases[i].ok);
      assert_null (names[n]);
      if (n)
        assert_string_equal (names[0], "vm1.xml");
      vc_doc_file_names_free (names, n);
    }
    else {
      assert_int_equal (r, -1);
      assert_int_equal (errno, EPROTO);
      assert_null (names);
      assert_int_equal (n, 0);
      if (cases[i].bad_at < 0)
        assert_null (bad);
      else
        assert_ptr_equal (bad, cases[i].text + cases[i].bad_at);
    }
  }
}

/* What a peer sent, quoted for a message: control bytes never pass. */
static void
test_printable (void **state)
{
  char out[12];

  assert_string_equal (vc_printable ("vm1.xml\nrest", 12, out, sizeof out), "vm1.xml");
  assert_string_equal (vc_printable ("a\033[2Jb\x80", 7, out, sizeof out), "a?[2Jb?");
  assert_string_equal (vc_printable ("abcdefghijklmnop", 16, out, sizeof out), "abcdefgh...");
  assert_string_equal (vc_printable ("abcdefghijk", 11, out, sizeof out), "abcdefghijk");
  assert_string_equal (vc_printable ("abc", 2, out, sizeof out), "ab");
}

/* A server in a child on one end of a socket pair: answers one frame
 * with a payload of reply_len bytes.
 */
static pid_t
tls_server (int fd, const unsigned char *psk, size_t reply_len)
{
  pid_t pid = fork ();

  assert_true (pid >= 0);
  if (pid == 0) {
    char why[256], *payload, *big;
    struct vc_tls *t = vc_tls_server (fd, psk, why, sizeof why);
    uint32_t id;
    size_t len;
    if (t == NULL)
      _exit (errno == EKEYREJECTED ? 3 : 1);
    if (vc_remote_recv (t, &id, &payload, &len, 100, 5000) != 0 || id != 7 ||
        len != 3 || strcmp (payload, "abc") != 0)
      _exit (2);
    big = calloc (1, reply_len + 1);
    vc_remote_send (t, (uint32_t) -ESTALE, big, reply_len, NULL, 0, 5000);
    free (big);
    free (payload);
    vc_tls_close (t);
    _exit (0);
  }
  close (fd);
  return pid;
}

static void
test_tls (void **state)
{
  unsigned char k1[VC_REMOTE_PSK_LEN], k2[VC_REMOTE_PSK_LEN];
  struct vc_tls *t;
  char why[256], *payload, desc[128];
  uint32_t word;
  size_t len;
  int sv[2], st;
  pid_t pid;

  memset (k1, 1, sizeof k1);
  memset (k2, 2, sizeof k2);
  signal (SIGPIPE, SIG_IGN);

  /* Same key: a frame each way; the reply's error comes through. */
  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), 0);
  pid = tls_server (sv[1], k1, 10);
  t = vc_tls_client (sv[0], k1, why, sizeof why);
  assert_non_null (t);
  assert_non_null (strstr (vc_tls_description (t, desc, sizeof desc), "PSK"));
  assert_int_equal (vc_remote_send (t, 7, "ab", 2, "c", 1, 5000), 0);
  assert_int_equal (vc_remote_recv (t, &word, &payload, &len, 10, 5000), 0);
  assert_int_equal ((int32_t) word, -ESTALE);
  assert_int_equal (len, 10);
  free (payload);
  /* Then the end of the connection, cleanly. */
  assert_int_equal (vc_remote_recv (t, &word, &payload, &len, 10, 5000), 1);
  vc_tls_close (t);
  assert_int_equal (waitpid (pid, &st, 0), pid);
  assert_int_equal (WEXITSTATUS (st), 0);

  /* A reply over the limit: refused from its header. */
  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), 0);
  pid = tls_server (sv[1], k1, 100000);
  t = vc_tls_client (sv[0], k1, why, sizeof why);
  assert_non_null (t);
  assert_int_equal (vc_remote_send (t, 7, "abc", 3, NULL, 0, 5000), 0);
  assert_int_equal (vc_remote_recv (t, &word, &payload, &len, 99999, 5000), -1);
  assert_int_equal (errno, EPROTO);
  assert_null (payload);
  vc_tls_close (t);
  waitpid (pid, &st, 0);

  /* Another key: both ends refuse the handshake. */
  assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), 0);
  pid = tls_server (sv[1], k2, 10);
  t = vc_tls_client (sv[0], k1, why, sizeof why);
  assert_null (t);
  assert_int_equal (errno, EKEYREJECTED);
  assert_non_null (strstr (why, "the keys differ"));
  assert_int_equal (waitpid (pid, &st, 0), pid);
  assert_int_equal (WEXITSTATUS (st), 3);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_header_limits),
    cmocka_unit_test (test_key_stat),
    cmocka_unit_test (test_key_load),
    cmocka_unit_test (test_authkey_path),
    cmocka_unit_test (test_parse_server),
    cmocka_unit_test (test_doc_names),
    cmocka_unit_test (test_doc_read),
    cmocka_unit_test (test_doc_names_parse),
    cmocka_unit_test (test_printable),
    cmocka_unit_test (test_tls),
  };

  vc_test_log_init ("test-remote");
  return cmocka_run_group_tests (tests, NULL, NULL);
}
