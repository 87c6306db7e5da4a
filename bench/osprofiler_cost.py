#!/usr/bin/env python3
"""Issue 7: OSProfiler's cost per trace point (start + stop), measured the way Hoard's trace bench measures its own.

    osprofiler_cost.py PORT [N]

Against a redis-server already listening on 127.0.0.1:PORT (bench/run.sh trace starts one), times N iterations of
profiler.start(name, info); profiler.stop() three ways:
  redis  profiler.init(...) with the notifier OSProfiler's initializer sets up for redis://127.0.0.1:PORT
  noop   profiler.init(...) with OSProfiler's default no-op notifier
  off    no profiler.init() in this thread (a request without a trace header)
Prints one JSON object: {"osprofiler": version, "n": N, "us_per_point": {"redis": ..., "noop": ..., "off": ...}, ...}.
Uses Debian's python3-osprofiler and python3-redis.
"""
import json
import sys
import threading
import time

from oslo_config import cfg
import osprofiler
from osprofiler import notifier
from osprofiler import opts
from osprofiler import profiler
import redis


INFO = {"datastore": "redis", "command": "GET"}


def loop(n):
    start = profiler.start
    stop = profiler.stop
    t0 = time.perf_counter()
    for _ in range(n):
        start("datastore", INFO)
        stop()
    return time.perf_counter() - t0


def in_thread(fn):
    # profiler.init keeps its profiler in a thread local: each case runs in a fresh thread so none leaks into the next.
    out = {}

    def body():
        out["v"] = fn()

    t = threading.Thread(target=body)
    t.start()
    t.join()
    return out["v"]


def main():
    port = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    url = "redis://127.0.0.1:%d/0" % port
    conf = cfg.ConfigOpts()
    opts.set_defaults(conf, enabled=True, hmac_keys="SECRET_KEY", connection_string=url)
    conf([], project="hoard-bench")
    client = redis.StrictRedis.from_url(url)
    client.flushdb()

    def case(kind, iterations):
        def run():
            if kind == "redis":
                # What osprofiler.initializer.init_from_conf does in a service.
                notifier.set(notifier.create(url, context={}, project="bench", service="api", host="bench", conf=conf))
            else:
                notifier.set(notifier._noop_notifier)
            if kind != "off":
                profiler.init("SECRET_KEY")
            return loop(iterations)
        return in_thread(run)

    result = {"osprofiler": getattr(osprofiler, "__version__", None) or _version(), "n": n, "us_per_point": {},
              "python": sys.version.split()[0]}
    for kind, count in (("redis", n), ("noop", n), ("off", n)):
        case(kind, min(count, 2000))  # warm-up: imports, connection, JIT-free but cache-warm
        best = None
        for _ in range(3):
            elapsed = case(kind, count)
            best = elapsed if best is None else min(best, elapsed)
        result["us_per_point"][kind] = best / count * 1e6
    # Every sampled point is two LPUSHes (start and stop events) to one osprofiler_opt:<base_id> list per trace.
    result["redis_events"] = sum(client.llen(k) for k in client.scan_iter("osprofiler_opt:*"))
    client.flushdb()
    notifier.set(notifier._noop_notifier)
    print(json.dumps(result))


def _version():
    try:
        from importlib.metadata import version
        return version("osprofiler")
    except Exception:
        return "?"


if __name__ == "__main__":
    main()
