#!/usr/bin/python3
"""report.py - the markdown report of bench/serve/run.sh from its output folder.

    report.py OUT_DIR

Reads, per run NAME = {clean,mixed}_c{C}: NAME.wrk (wrk's --latency output and the
"bench_serve:" line of predict.lua's done()), NAME.before.prom / NAME.after.prom (the
server's /metrics around the run), NAME.cpu (server CPU ticks, machine busy ticks, wall
seconds), NAME.wrkcpu (wrk's user and system seconds); and meta.txt, rss.txt,
alive.txt, server.rc, perf_top.txt. Prints the table, the malformed-body check, the
issue's target, the memory readings and the profile. Computes nothing it cannot read:
a missing file leaves a "-".

Counting: the /metrics deltas include the "before" GET /metrics itself (counted as a
200 once answered), so 1 is taken off the 200s. The server also finishes a few requests
that wrk sent but stopped waiting for at the end of the run, so its counts can exceed
wrk's completed requests by up to the number of connections.
"""
import os
import re
import sys

TARGET_RPS = 20000       # the issue: single-text predictions per second at c=16
TARGET_P99_MS = 10.0     # and p99 latency under 10 ms
TARGET_CONNS = 16
UNIT_MS = {'us': 1e-3, 'ms': 1.0, 's': 1e3, 'm': 60e3}


def read(path):
    try:
        with open(path, encoding='utf-8', errors='replace') as f:
            return f.read()
    except OSError:
        return None


def kv(path):
    out = {}
    for line in (read(path) or '').splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            out[parts[0]] = parts[1].strip()
    return out


def prom_codes(text):
    """ember_http_requests_total{code="..."} -> {code: count}"""
    out = {}
    for m in re.finditer(r'^ember_http_requests_total\{code="([^"]+)"\}\s+(\d+)', text or '', re.M):
        out[m.group(1)] = int(m.group(2))
    return out


def ms(value, unit):
    return float(value) * UNIT_MS[unit]


def parse_wrk(text):
    w = {}
    if not text:
        return w
    m = re.search(r'Requests/sec:\s+([\d.]+)', text)
    if m:
        w['rps'] = float(m.group(1))
    for pct in ('50', '99'):
        m = re.search(r'^\s+%s%%\s+([\d.]+)(us|ms|s|m)\b' % pct, text, re.M)
        if m:
            w['p' + pct] = ms(m.group(1), m.group(2))
    m = re.search(r'Non-2xx or 3xx responses:\s+(\d+)', text)
    w['non2xx'] = int(m.group(1)) if m else 0
    m = re.search(r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', text)
    w['sockerr'] = tuple(int(x) for x in m.groups()) if m else (0, 0, 0, 0)
    m = re.search(r'^bench_serve: (.*)$', text, re.M)
    if m:
        for tok in m.group(1).split():
            k, v = tok.split('=')
            w[k] = float(v)
    return w


def fmt(x, spec, dash='-'):
    return dash if x is None else format(x, spec)


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: report.py OUT_DIR')
    d = sys.argv[1]
    meta = kv(os.path.join(d, 'meta.txt'))
    conns = [int(c) for c in meta.get('conns', '1 16 64').split()]
    p = print

    runs = {}
    for mode in ('clean', 'mixed'):
        for c in conns:
            name = '%s_c%d' % (mode, c)
            w = parse_wrk(read(os.path.join(d, name + '.wrk')))
            before = prom_codes(read(os.path.join(d, name + '.before.prom')))
            after = prom_codes(read(os.path.join(d, name + '.after.prom')))
            delta = {k: after.get(k, 0) - before.get(k, 0) for k in after} if before and after else {}
            if '200' in delta:
                delta['200'] -= 1  # the "before" GET /metrics
            cpu = kv(os.path.join(d, name + '.cpu'))
            wc = (read(os.path.join(d, name + '.wrkcpu')) or '').split()
            r = {'w': w, 'delta': delta, 'cpu': cpu}
            dur = w.get('duration_us', 0) / 1e6
            if delta and dur > 0:
                r['ok_rps'] = delta.get('200', 0) / dur
            if cpu.get('server_ticks') and cpu.get('wall_s'):
                tck = float(cpu['tck'])
                wall = float(cpu['wall_s'])
                srv = int(cpu['server_ticks']) / tck
                wrk = float(wc[-2]) + float(wc[-1]) if len(wc) >= 2 else None
                r['srv_cores'] = srv / wall
                if wrk is not None:
                    r['wrk_cores'] = wrk / wall
                    r['oth_cores'] = max(0.0, int(cpu['busy_ticks']) / tck - srv - wrk) / wall
                served = sum(delta.values()) if delta else 0
                if served:
                    r['us_per_req'] = srv / served * 1e6
            runs[name] = r

    p('### bench/serve: `ember serve` under wrk, %s' % meta.get('date', '?'))
    p()
    p('- commit %s; %s, %s vCPUs; %s' % (meta.get('commit', '?'), meta.get('cpu', '?'),
                                         meta.get('nproc', '?'), meta.get('wrk', 'wrk')))
    rec = meta.get('endpoint') == 'recommend'
    if rec:
        what = ('a recommender, %s); POST /v1/recommend, {"user": U, "k": 10%s}, %s distinct '
                'MovieLens 100k users cycled' % (meta.get('model', '?'),
                ', "exclude": [the user\'s rated items]' if meta.get('rec_exclude') == '1' else '',
                meta.get('texts', '?')))
    else:
        what = ('the Banking77 reference model); POST /v1/predict, one text per request, %s '
                'distinct test texts cycled' % meta.get('texts', '?'))
    p('- server: `ember serve MODEL --port 0 --threads %s` (%s; %s s per run after a %s s '
      'warm-up; wrk -t1 at c=1, -t2 otherwise, keep-alive, loopback'
      % (meta.get('server', '').split('--threads ')[-1].split()[0] if 'server' in meta else '?',
         what, meta.get('duration', '?'), meta.get('warmup', '?')))
    p('- **wrk runs on the same %s cores as the server** and takes CPU from it (columns '
      '"cores"); "others" is what the rest of the machine used in the same time (other '
      'jobs, steal). The background training job (valsel) was running: at start %s, at '
      'end %s.' % (meta.get('nproc', '?'), meta.get('valsel_start', '?'), meta.get('valsel_end', '?')))
    p()
    p('| bodies | conns | requests | req/s | 2xx/s | 2xx/s ÷ clean | p50 ms | p99 ms | max ms '
      '| non-2xx (wrk) | socket errors | 400 | 5xx | server CPU µs/req | cores: server / wrk / others |')
    p('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
    for mode in ('clean', 'mixed'):
        for c in conns:
            r = runs['%s_c%d' % (mode, c)]
            w, dl = r['w'], r['delta']
            base = runs['clean_c%d' % c].get('ok_rps')
            ratio = r['ok_rps'] / base if base and r.get('ok_rps') else None
            five = sum(v for k, v in dl.items() if k.startswith('5')) if dl else None
            se = w.get('sockerr')
            p('| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s / %s |' % (
                'valid' if mode == 'clean' else '1 in %s bad' % meta.get('bad_every', '?'), c,
                fmt(w.get('requests'), ',.0f'), fmt(w.get('rps'), ',.0f'),
                fmt(r.get('ok_rps'), ',.0f'), '–' if mode == 'clean' else fmt(ratio, '.3f'),
                fmt(w.get('p50'), '.2f'), fmt(w.get('p99'), '.2f'),
                fmt(w.get('max_us') / 1e3 if 'max_us' in w else None, '.1f'),
                fmt(w.get('non2xx'), 'd'),
                '-' if se is None else ('0' if not any(se) else
                                        'connect %d, read %d, write %d, timeout %d' % se),
                fmt(dl.get('400') if dl else None, 'd'), fmt(five, 'd'),
                fmt(r.get('us_per_req'), '.0f'), fmt(r.get('srv_cores'), '.2f'),
                fmt(r.get('wrk_cores'), '.2f'), fmt(r.get('oth_cores'), '.2f')))
    p()
    p('req/s and the latencies are wrk\'s (all completed requests; in the mixed runs 1 % of them '
      'are the fast 400s); 2xx/s, 400 and 5xx are deltas of the server\'s '
      '`ember_http_requests_total` over the run (2xx/s ÷ wrk\'s duration). Server CPU µs/req = '
      'its utime+stime over the run ÷ requests it answered.')
    p()

    # Malformed bodies.
    p('Malformed bodies (every %sth request of each wrk thread, rotating: unterminated JSON, '
      'invalid UTF-8 bytes, field "txt", empty body; all `Content-Type: application/json`):'
      % meta.get('bad_every', '?'))
    p()
    for c in conns:
        r = runs['mixed_c%d' % c]
        w, dl = r['w'], r['delta']
        unexpected = {k: v for k, v in dl.items() if k not in ('200', '400') and v} if dl else {}
        p('- c=%d: wrk sent %s requests, %s of them malformed; the server answered %s with 400 '
          '(wrk: %s non-2xx), 5xx: %s%s' % (
              c, fmt(w.get('sent'), ',.0f'), fmt(w.get('sent_bad'), ',.0f'),
              fmt(dl.get('400') if dl else None, ',d'), fmt(w.get('non2xx'), ',d'),
              fmt(sum(v for k, v in dl.items() if k.startswith('5')) if dl else None, 'd'),
              '' if not unexpected else '; other codes: ' +
              ', '.join('%s: %d' % kv_ for kv_ in sorted(unexpected.items()))))
    alive = kv(os.path.join(d, 'alive.txt'))
    p('- after all runs: /healthz %s, /readyz %s' % (alive.get('healthz', '-'), alive.get('readyz', '-')))
    rc = (read(os.path.join(d, 'server.rc')) or '-').strip()
    p('- SIGTERM: the server exited with status %s%s' % (rc, '' if rc == '0' else ' (expected 0)'))
    p()

    # Target.
    t = runs.get('clean_c%d' % TARGET_CONNS)
    if t and 'rps' in t['w'] and 'p99' in t['w'] and not rec:
        ok = t['w']['rps'] >= TARGET_RPS and t['w']['p99'] < TARGET_P99_MS
        p('Target of the issue: ≥ %s single-text predictions/s at concurrency %d with p99 < %g ms '
          'on this 2-core machine. Measured (valid bodies, c=%d): %s req/s, p99 %.2f ms → '
          '**%s** (with wrk on the same cores).' % (
              format(TARGET_RPS, ','), TARGET_CONNS, TARGET_P99_MS, TARGET_CONNS,
              format(t['w']['rps'], ',.0f'), t['w']['p99'], 'met' if ok else 'not met'))
        p()

    # Memory.
    m = kv(os.path.join(d, 'rss.txt'))
    if 'rss1_kb' in m and 'rss2_kb' in m:
        r1, r2 = int(m['rss1_kb']), int(m['rss2_kb'])
        n = int(m['answered2']) - int(m['answered1'])
        p('Memory (VmRSS of the server): %.1f MiB after the first warm-up, %.1f MiB after %s more '
          'requests (all runs) → %+.1f MiB (%+d kB); VmHWM %.1f → %.1f MiB.%s' % (
              r1 / 1024, r2 / 1024, format(n, ','), (r2 - r1) / 1024, r2 - r1,
              int(m['hwm1_kb']) / 1024, int(m['hwm2_kb']) / 1024,
              '' if n >= 100000 else ' (fewer than 100,000 requests: too short to judge)'))
        p()

    perf = read(os.path.join(d, 'perf_top.txt'))
    if perf:
        p('Profile of the server at c=16 (`perf record -g -p SERVER_PID`, %s s, event %s; '
          'self time as a share of the server\'s samples, top 15 symbols, then by shared object):'
          % (meta.get('perf_seconds', '?'), meta.get('perf_event', '?')))
        p()
        p('```')
        p(perf.rstrip())
        p('```')


if __name__ == '__main__':
    main()
