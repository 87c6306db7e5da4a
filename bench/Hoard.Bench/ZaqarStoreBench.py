#!/usr/bin/python3
"""Zaqar's Redis management controllers (pools, flavors, catalogue), timed the way bench/Hoard.Bench/StoreBench.cs times
Hoard's IManagementStore: one client, sequential calls, against a redis-server given on the command line.

Run with Debian's interpreter (python3-zaqar, python3-redis):

    /usr/bin/python3 bench/Hoard.Bench/ZaqarStoreBench.py --redis 127.77.0.1:6379 --db 0 --count 5000

One line per figure on stdout, `zaqar <operation> <value> <unit>`, for example `zaqar pool.insert 3512 ops/s`;
`zaqar <operation> FAILED <why>` for an operation the controllers cannot do; `note: ...` lines say how a figure was made.
The database given is flushed first.

Debian's zaqar 15.0.0 cannot drive every controller method as shipped on Python 3 with redis-py 4; the bench works
around each fault in the narrowest way and says so (see the notes it prints):
  * PoolsBase.create() passes (flavor, options) positionally into the Redis _create(name, weight, uri, group, flavor,
    options), so every create fails (options land in flavor, flavor in group). The bench runs create()'s own body --
    the capability check, then _create -- with keyword arguments.
  * The readers (pool get and delete, flavor get, catalogue get and list) index HGETALL replies by str keys and build
    keys from ZRANGE members, but redis-py returns bytes. The controllers get a client whose HGETALL answers str keys
    (and str values, except the msgpack-packed 'o' and 'c') and whose ZRANGE answers str members; nothing else changes.
  * A pool with no flavor stores flavor None, which redis-py 4 refuses (DataError), so every pool has a flavor.
"""

import argparse
import logging
import sys
import time
import warnings

warnings.simplefilter('ignore')  # redis-py's hmset DeprecationWarning, once per call site

try:
    import redis
    from oslo_config import cfg
    from osprofiler import opts as profiler_opts
    from zaqar.conf import default as default_conf
    from zaqar.conf import drivers as drivers_conf
    from zaqar.conf import drivers_management_store_redis as management_conf
    from zaqar.conf import profiler as profiler_conf
    from zaqar.storage.redis import driver as redis_driver
except ImportError as error:
    print(f'zaqar all FAILED cannot import Zaqar ({error}); apt-get install -y python3-zaqar python3-redis')
    sys.exit(2)


class StrReplyRedis(redis.StrictRedis):
    """The controllers' client, answering HGETALL and ZRANGE in str as the controllers' readers expect."""

    PACKED_FIELDS = ('o', 'c')

    def hgetall(self, name):
        reply = super().hgetall(name)
        decoded = {}
        for field, value in reply.items():
            field = field.decode()
            decoded[field] = value if field in self.PACKED_FIELDS or value is None else value.decode()
        return decoded

    def hmget(self, name, keys, *args):
        # The list cursors read fields by position: decode all but the packed ones.
        fields = list(keys) + list(args)
        values = super().hmget(name, keys, *args)
        return [v if f in self.PACKED_FIELDS or v is None else v.decode() for f, v in zip(fields, values)]

    def zrange(self, *args, **kwargs):
        return [m.decode() if isinstance(m, bytes) else m for m in super().zrange(*args, **kwargs)]


def open_controllers(uri):
    conf = cfg.ConfigOpts()
    conf(args=[], project='zaqar', default_config_files=[])
    conf.register_opts(default_conf.ALL_OPTS)
    conf.register_opts(drivers_conf.ALL_OPTS, group=drivers_conf.GROUP_NAME)
    conf.register_opts(profiler_conf.ALL_OPTS, group=profiler_conf.GROUP_NAME)
    profiler_opts.set_defaults(conf)
    conf.register_opts(management_conf.ALL_OPTS, group=management_conf.GROUP_NAME)
    conf.set_override('message_store', 'redis', group=drivers_conf.GROUP_NAME)
    conf.set_override('management_store', 'redis', group=drivers_conf.GROUP_NAME)
    conf.set_override('uri', uri, group=management_conf.GROUP_NAME)
    control = redis_driver.ControlDriver(conf, None)
    client = StrReplyRedis(connection_pool=control.connection.connection_pool)
    pools = control.pools_controller
    flavors = control.flavors_controller
    catalogue = control.catalogue_controller
    for controller in (pools, pools.flavor_ctl, flavors, catalogue):
        controller._client = client
    return control, pools, flavors, catalogue


def pool_create(pools, name, weight, uri, flavor, options):
    """PoolsBase.create's body, passing _create its arguments by keyword (see the module's docstring)."""
    flavor_obj = {'name': flavor} if flavor is not None else {}
    if not pools._check_capabilities(uri, flavor=flavor_obj):
        raise RuntimeError('PoolCapabilitiesMismatch')
    return pools._create(name, weight, uri, flavor=flavor, options=options)


def timed(count, body):
    """Seconds for body(i), i in range(count), called one after another."""
    start = time.perf_counter()
    for i in range(count):
        body(i)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--redis', default='127.77.0.1:6379', help='host:port of a redis-server')
    parser.add_argument('--password', default=None)
    parser.add_argument('--db', type=int, default=0, help='database number (flushed first)')
    parser.add_argument('--count', type=int, default=5000, help='pools, flavors and catalogue entries')
    parser.add_argument('--pools-per-flavor', type=int, default=10,
                        help='pools in each flavor of the plain create/get/update/delete runs')
    parser.add_argument('--page', type=int, default=10, help='page size of the lists (the controllers default to 10)')
    parser.add_argument('--large', type=int, nargs='*', default=[1000, 10000],
                        help='flavor sizes for the create-cost-by-flavor-size runs')
    parser.add_argument('--large-samples', type=int, default=10, help='creates timed in each large flavor')
    args = parser.parse_args()
    # The controllers log each failure with a traceback; the bench reports failures on its own lines.
    logging.getLogger('zaqar').setLevel(logging.CRITICAL)

    host, _, port = args.redis.rpartition(':')
    auth = f':{args.password}@' if args.password else ''
    # socket_timeout: Zaqar's default of 0.1 s is for a live service; a long scan must not time out here.
    uri = f'redis://{auth}{host}:{port}?dbid={args.db}&socket_timeout=30'
    control, pools, flavors, catalogue = open_controllers(uri)
    raw = control.connection
    raw.flushdb()

    def out(operation, value, unit):
        print(f'zaqar {operation} {value:.0f} {unit}' if value >= 10 else f'zaqar {operation} {value:.2f} {unit}',
              flush=True)

    def failed(operation, error):
        print(f'zaqar {operation} FAILED {type(error).__name__}: {error}'.replace('\n', ' '), flush=True)

    def attempt(operation, run):
        try:
            run()
        except Exception as error:  # a controller that cannot be driven: say so and go on
            failed(operation, error)

    print(f'note: zaqar {redis_driver.__file__.rsplit("/zaqar/", 1)[0]}, redis-py {redis.__version__}, '
          f'python {sys.version.split()[0]}, redis-server {raw.info()["redis_version"]}, single client, sequential',
          flush=True)
    print('note: pool create = PoolsBase.create body (capability check + _create) with keyword arguments; '
          'shipped create() fails (flavor, options passed positionally into _create(group, flavor))', flush=True)
    print('note: HGETALL/HMGET/ZRANGE replies decoded to str for the readers (shipped code indexes bytes replies by str)',
          flush=True)
    print(f'note: pools in flavors of {args.pools_per_flavor} (a pool without flavor stores None: redis-py DataError)',
          flush=True)
    try:
        pool_create(pools, 'probe', 1, f'redis://{host}:{port}', 'probe-flavor', {})
        pools.create('probe-shipped', 1, f'redis://{host}:{port}', flavor='probe-flavor', options={})
    except Exception as error:
        print(f'note: shipped PoolsBase.create() fails: {type(error).__name__}: {error}', flush=True)
    raw.flushdb()

    count = args.count
    pool_uri = f'redis://{host}:{port}'
    names = [f'pool-{i:07d}' for i in range(count)]
    flavor_of = [f'flavor-{i // args.pools_per_flavor:07d}' for i in range(count)]
    options = {'capacity': 20, 'address_range': '127.43.0.0/16'}

    # Pools.
    def pools_run():
        out('pool.insert', count / timed(count, lambda i: pool_create(pools, names[i], 100, pool_uri, flavor_of[i], options)), 'ops/s')
        out('pool.get', count / timed(count, lambda i: pools.get(names[i], detailed=True)), 'ops/s')
        out('pool.update', count / timed(count, lambda i: pools.update(names[i], weight=50, options=options)), 'ops/s')

        start = time.perf_counter()
        listed, marker = 0, None
        while True:
            page = pools.list(marker=marker, limit=args.page, detailed=True)
            items = list(next(page))
            following = next(page)
            listed += len(items)
            if not items:
                break
            marker = following.decode() if isinstance(following, bytes) else following
        seconds = time.perf_counter() - start
        if listed != count:
            raise RuntimeError(f'listed {listed} pools, expected {count}')
        out('pool.list', listed / seconds, 'items/s')

        # The pools' flavors were never created, so no delete is refused as the last pool of a flavor (as in StoreBench.cs).
        out('pool.delete', count / timed(count, lambda i: pools.delete(names[i])), 'ops/s')
        if raw.exists(*[f'{n}.pools' for n in names[:100]]):
            raise RuntimeError('pool.delete left pools behind')

    attempt('pool', pools_run)

    # Flavors.
    flavor_names = [f'flavor-{i:07d}' for i in range(count)]

    def flavors_run():
        out('flavor.insert', count / timed(count, lambda i: flavors.create(flavor_names[i], project='bench', capabilities={})), 'ops/s')
        out('flavor.get', count / timed(count, lambda i: flavors.get(flavor_names[i], project='bench', detailed=True)), 'ops/s')
        out('flavor.update', count / timed(count, lambda i: flavors.update(flavor_names[i], project='bench', capabilities={'x': 1})), 'ops/s')
        start = time.perf_counter()
        listed, marker = 0, None
        while True:
            page = flavors.list(project='bench', marker=marker, limit=args.page, detailed=True)
            items = list(next(page))
            following = next(page)
            listed += len(items)
            if not items:
                break
            marker = following.decode() if isinstance(following, bytes) else following
        seconds = time.perf_counter() - start
        if listed != count:
            raise RuntimeError(f'listed {listed} flavors, expected {count}')
        out('flavor.list', listed / seconds, 'items/s')
        out('flavor.delete', count / timed(count, lambda i: flavors.delete(flavor_names[i], project='bench')), 'ops/s')

    attempt('flavor', flavors_run)

    # Catalogue: COUNT instances of one project, spread over the pools.
    instances = [f'instance-{i:07d}' for i in range(count)]

    def catalogue_run():
        out('catalogue.insert', count / timed(count, lambda i: catalogue.insert('bench', instances[i], names[i % 100])), 'ops/s')
        out('catalogue.get', count / timed(count, lambda i: catalogue.get('bench', instances[i])), 'ops/s')
        out('catalogue.update', count / timed(count, lambda i: catalogue.update('bench', instances[i], pool=names[(i + 1) % 100])), 'ops/s')
        start = time.perf_counter()
        listed = len(list(catalogue.list('bench')))
        seconds = time.perf_counter() - start
        if listed != count:
            raise RuntimeError(f'listed {listed} entries, expected {count}')
        out('catalogue.list', listed / seconds, 'items/s')
        out('catalogue.delete', count / timed(count, lambda i: catalogue.delete('bench', instances[i])), 'ops/s')

    attempt('catalogue', catalogue_run)

    # The cost of a pool create and delete once one flavor holds many pools. The flavor is filled through _create (the
    # stored layout create() makes, without its capability scan, which would make filling quadratic), then timed
    # through create() as above.
    raw.flushdb()
    flavors.create('large', project='bench', capabilities={})
    filled = 0
    for size in args.large:
        def large_run():
            nonlocal filled
            for i in range(filled, size):
                pools._create(f'large-{i:07d}', 100, pool_uri, flavor='large', options=options)
            filled = size
            samples = args.large_samples
            extra = [f'large-extra-{size}-{i:04d}' for i in range(samples)]
            seconds = timed(samples, lambda i: pool_create(pools, extra[i], 100, pool_uri, 'large', options))
            out(f'pool.insert@{size}', samples / seconds, 'ops/s')
            seconds = timed(samples, lambda i: pools.get(extra[i], detailed=True))
            out(f'pool.get@{size}', samples / seconds, 'ops/s')
            seconds = timed(samples, lambda i: pools.delete(extra[i]))
            out(f'pool.delete@{size}', samples / seconds, 'ops/s')

        attempt(f'pool.insert@{size}', large_run)

    raw.flushdb()
    control.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
