#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The timing helper of tests/bench/replication-bench.sh: gen, latency,
stats, runs, syncwait (see each cmd_ function)."""
import ctypes, math, os, re, select, struct, subprocess, sys, threading, time, uuid

GEN = re.compile(rb'<version generation="([0-9]+)"')
IN_CLOSE_WRITE, IN_MOVED_TO, IN_Q_OVERFLOW = 0x8, 0x80, 0x4000
IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000


def gen_of(path):
    try:
        with open(path, 'rb') as f:
            m = GEN.search(f.read())
    except FileNotFoundError:
        return 0
    return int(m.group(1)) if m else 0


def pct(vals, p):
    """Nearest-rank percentile."""
    v = sorted(vals)
    return v[max(0, math.ceil(p / 100 * len(v)) - 1)]


def summary(vals):
    return '%.1f %.1f %.1f %.1f %.1f' % (pct(vals, 50), pct(vals, 90), pct(vals, 99),
                                          max(vals), sum(vals) / len(vals))


def split_cmd(argv):
    i = argv.index('--')
    return argv[:i], argv[i + 1:]


def cmd_gen(argv):
    """gen TEMPLATE DIR COUNT PREFIX: COUNT documents named PREFIX%04d."""
    tmpl, d, count, prefix = argv[0], argv[1], int(argv[2]), argv[3]
    text = open(tmpl).read()
    m = re.search(r'<name>([^<]*)</name>', text)
    old = m.group(0)
    for i in range(1, count + 1):
        name = '%s%04d' % (prefix, i)
        doc = text.replace(old, '<name>%s</name>' % name, 1)
        doc = re.sub(r'<uuid>[^<]*</uuid>', '<uuid>%s</uuid>' % uuid.uuid4(), doc, 1)
        tmp = os.path.join(d, '.gen-%s' % name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, doc.encode())
        os.close(fd)
        os.rename(tmp, os.path.join(d, name + '.xml'))


def read_events(fd):
    out = []
    while True:
        try:
            buf = os.read(fd, 65536)
        except BlockingIOError:
            return out
        off = 0
        while off < len(buf):
            wd = int.from_bytes(buf[off:off + 4], 'little', signed=True)
            mask = int.from_bytes(buf[off + 4:off + 8], 'little')
            ln = int.from_bytes(buf[off + 12:off + 16], 'little')
            name = buf[off + 16:off + 16 + ln].rstrip(b'\0').decode()
            out.append((wd, mask, name))
            off += 16 + ln


class CliSubmit:
    """One update = one CLI process; its fd becomes readable when it exits."""

    def __init__(self, tmpl, errlog):
        self.tmpl, self.errlog = tmpl, errlog

    def start(self, doc):
        cmd = [a.replace('{}', doc) for a in self.tmpl]
        self.p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=self.errlog)
        self.fd = os.pidfd_open(self.p.pid)
        return self.fd

    def finish(self, done):
        if not done:
            self.p.kill()
        rc = self.p.wait()
        os.close(self.fd)
        return rc


class IpcSubmit:
    """One update = one PUT over a libqb connection opened once (as a
    long-lived client would): what the daemons take, without the CLI's
    process start-up and connection.  The call runs in a thread (ctypes
    drops the GIL) that writes to a pipe when the reply came."""

    def __init__(self, name):
        self.qb = ctypes.CDLL('libqb.so.100', use_errno=True)
        self.qb.qb_ipcc_connect.restype = ctypes.c_void_p
        self.qb.qb_ipcc_connect.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
        self.qb.qb_ipcc_sendv_recv.restype = ctypes.c_ssize_t
        self.qb.qb_ipcc_sendv_recv.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                               ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int32]
        self.c = self.qb.qb_ipcc_connect(name.encode(), 64 * 1024)
        if not self.c:
            sys.exit('cannot connect to %s (errno %d)' % (name, ctypes.get_errno()))
        self.reply = ctypes.create_string_buffer(64 * 1024)
        self.docs = {}

    # VC_IPC_PIECE of store/ipc-protocol.h: a longer payload goes as
    # PUT_PART pieces and a last PUT, as the CLI sends it.
    PIECE = 64 * 1024 // 2 - 1024

    def request(self, rid, data):
        # struct qb_ipc_request_header: int32 id, int32 size, each 8-aligned
        msg = struct.pack('<i4xi4x', rid, 16 + len(data)) + data
        buf = ctypes.create_string_buffer(msg, len(msg))

        class Iovec(ctypes.Structure):
            _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
        iov = Iovec(ctypes.cast(buf, ctypes.c_void_p), len(msg))
        n = self.qb.qb_ipcc_sendv_recv(self.c, ctypes.byref(iov), 1, self.reply, len(self.reply),
                                       10000)
        err = struct.unpack_from('<i', self.reply.raw, 16)[0] if n >= 24 else -1
        return 0 if n >= 24 and err == 0 else 1

    def call(self, payload, w):
        rc = 0
        while len(payload) > self.PIECE and rc == 0:
            rc = self.request(5, payload[:self.PIECE])         # PUT_PART
            payload = payload[self.PIECE:]
        self.rc = rc or self.request(2, payload)                # PUT
        os.write(w, b'x')

    def start(self, doc):
        if doc not in self.docs:
            text = open(doc, 'rb').read()
            name = re.search(rb'<name>([^<]*)</name>', text).group(1)
            self.docs[doc] = struct.pack('<I', len(name)) + name + text
        self.r, w = os.pipe()
        self.t = threading.Thread(target=self.call, args=(self.docs[doc], w))
        self.t.start()
        self.w = w
        return self.r

    def finish(self, done):
        self.t.join()
        os.close(self.r)
        os.close(self.w)
        return self.rc


def cmd_latency(argv):
    """latency OUT COUNT TIMEOUT DIR1,DIR2,... DOC=FILE,... -- CMD ({} = DOC)

    DIR1 is the submitting node's store.  CMD "@ipc": PUTs over one IPC
    connection to virtckptd instead of a CLI each.  Writes one CSV line
    per update:
    i,file,generation,rc,cli_ms,ms_on_DIR1,ms_on_DIR2,...,all_ms
    """
    opts, tmpl = split_cmd(argv)
    out, count, timeout = opts[0], int(opts[1]), float(opts[2])
    dirs = opts[3].split(',')
    pairs = [p.split('=', 1) for p in opts[4].split(',')]
    libc = ctypes.CDLL(None, use_errno=True)
    ifd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    if ifd < 0:
        sys.exit('inotify_init1 failed')
    wds = {}
    for i, d in enumerate(dirs):
        wd = libc.inotify_add_watch(ifd, d.encode(), IN_MOVED_TO | IN_CLOSE_WRITE)
        if wd < 0:
            sys.exit('inotify_add_watch %s failed' % d)
        wds[wd] = i
    errlog = open(out + '.stderr', 'ab')
    sub = IpcSubmit('virtckptd') if tmpl == ['@ipc'] else CliSubmit(tmpl, errlog)
    failures = 0
    with open(out, 'w') as f:
        for k in range(count):
            doc, fname = pairs[k % len(pairs)]
            paths = [os.path.join(d, fname) for d in dirs]
            want = gen_of(paths[0]) + 1
            read_events(ifd)                    # drain
            seen = [None] * len(dirs)
            cli = rc = None
            t0 = time.perf_counter_ns()
            pfd = sub.start(doc)
            poller = select.poll()
            poller.register(ifd, select.POLLIN)
            poller.register(pfd, select.POLLIN)
            deadline = t0 + int(timeout * 1e9)
            while cli is None or None in seen:
                now = time.perf_counter_ns()
                if now >= deadline:
                    break
                ev = poller.poll(min(50, (deadline - now) / 1e6))
                now = time.perf_counter_ns()
                recheck = not ev
                for fd_, _e in ev:
                    if fd_ == pfd:
                        rc = sub.finish(True)
                        cli = now
                        poller.unregister(pfd)
                        continue
                    for wd, mask, name in read_events(ifd):
                        if mask & IN_Q_OVERFLOW:
                            recheck = True
                            continue
                        i = wds.get(wd)
                        if i is not None and seen[i] is None and name == fname and \
                                gen_of(paths[i]) >= want:
                            seen[i] = now
                if recheck:
                    for i in range(len(dirs)):
                        if seen[i] is None and gen_of(paths[i]) >= want:
                            seen[i] = now
            if cli is None:
                rc = sub.finish(False)
            ms = lambda t: '' if t is None else '%.3f' % ((t - t0) / 1e6)
            done = None if None in seen else max(seen)
            if rc != 0 or done is None:
                failures += 1
            f.write('%d,%s,%d,%s,%s,%s,%s\n' % (k, fname, want, rc, ms(cli),
                                               ','.join(ms(s) for s in seen), ms(done)))
            if failures > 10:
                sys.exit('more than 10 updates failed or timed out, see %s' % out)
    print(failures)


def cmd_stats(argv):
    """stats CSV COLUMN: p50 p90 p99 max mean of a column (empty cells skipped)."""
    col = int(argv[1])
    vals = []
    for line in open(argv[0]):
        c = line.rstrip('\n').split(',')[col]
        if c:
            vals.append(float(c))
    print(summary(vals) if vals else 'nan nan nan nan nan')


def cmd_runs(argv):
    """runs N -- CMD: wall time of N runs of CMD; stats as in stats."""
    opts, cmd = split_cmd(argv)
    vals = []
    for _ in range(int(opts[0])):
        t0 = time.perf_counter_ns()
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, check=True)
        vals.append((time.perf_counter_ns() - t0) / 1e6)
    print(summary(vals))


def count_docs(d):
    try:
        return sum(1 for e in os.scandir(d) if e.name.endswith('.xml'))
    except FileNotFoundError:
        return 0


def cmd_syncwait(argv):
    """syncwait T0 DIR DOMAINS MEMBERS TIMEOUT -- STATUS-CMD

    T0: wall-clock start (EPOCHREALTIME).  Waits until DIR holds DOMAINS
    documents (cheap: a directory scan every 10 ms), then until STATUS-CMD
    says synced with MEMBERS members and DOMAINS domains (every 20 ms).
    Prints: seconds-to-all-files seconds-to-synced status-calls.
    """
    opts, cmd = split_cmd(argv)
    t0, d, want, members, timeout = float(opts[0]), opts[1], int(opts[2]), int(opts[3]), \
        float(opts[4])
    t_files = None
    calls = 0
    last = ''
    while True:
        now = time.time()
        if now - t0 > timeout:
            sys.stderr.write('last status:\n%s\n' % last)
            sys.exit('not synced within %gs (%d documents)' % (timeout, count_docs(d)))
        if t_files is None:
            if count_docs(d) >= want:
                t_files = time.time() - t0
            else:
                time.sleep(0.01)
                continue
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        calls += 1
        last = r.stdout
        st = dict(l.split(': ', 1) for l in r.stdout.splitlines() if ': ' in l)
        if st.get('state') == 'synced' and len(st.get('members', '').split()) == members \
                and st.get('domains') == str(want):
            print('%.3f %.3f %d' % (t_files, time.time() - t0, calls))
            return
        time.sleep(0.02)


{'gen': cmd_gen, 'latency': cmd_latency, 'stats': cmd_stats, 'runs': cmd_runs,
 'syncwait': cmd_syncwait}[sys.argv[1]](sys.argv[2:])
