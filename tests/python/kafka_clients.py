#!/usr/bin/env python3
"""Drive a metaquorum cluster's broker shims with real Kafka client libraries.

Owns the client-compatibility checks that need kafka-python and confluent-kafka
(librdkafka) rather than Rust code:

  admin        topic / partition / ACL / config round trip through one library's
               admin client, plus the TOPIC_ALREADY_EXISTS (36) and
               INVALID_TOPIC_EXCEPTION (17) cases; after each change, checks that
               EVERY broker in --brokers shows it (within a 30 s bound: a deadline
               for the test, not a latency target; propagation latency is measured
               by `metaquorum-brokerbench propagation`), asking each broker
               directly with a small raw-protocol client (Metadata v4 with
               allow_auto_topic_creation=false, DescribeConfigs v1, DescribeAcls v1).
  create-loop  creates P-0..P-(N-1) one at a time, appends each acknowledged name
               to FILE (flushed), names whose retry said TOPIC_ALREADY_EXISTS to
               FILE.maybe; retriable errors are retried, anything else exits 1.
  list-topics  prints every topic name one broker reports (raw Metadata request).

Needs Python 3.11, kafka-python (3.x) and confluent-kafka. Exit status 0 means pass.
"""
import argparse
import os
import socket
import struct
import sys
import threading
import time

# How long a change may take to show on every broker before the test fails. A bound that keeps
# the test finite on a starved machine, not a latency target (that is a benchmark's job).
VISIBILITY_S = 30.0
RETRIABLE = {5: 'LEADER_NOT_AVAILABLE', 7: 'REQUEST_TIMED_OUT', 8: 'BROKER_NOT_AVAILABLE',
             13: 'NETWORK_EXCEPTION', 41: 'NOT_CONTROLLER',
             # librdkafka local errors
             -195: '_TRANSPORT', -185: '_TIMED_OUT', -187: '_ALL_BROKERS_DOWN'}
TRANSPORT = -1      # our code for a client-side transport / timeout exception


def fail(msg):
    print('FAIL ' + msg, flush=True)
    sys.exit(1)


# ---------------------------------------------------------------- raw protocol

def _str(s):
    if s is None:
        return struct.pack('>h', -1)
    b = s.encode()
    return struct.pack('>h', len(b)) + b


def _arr(items, enc):
    if items is None:
        return struct.pack('>i', -1)
    return struct.pack('>i', len(items)) + b''.join(enc(x) for x in items)


class Reader:
    def __init__(self, b):
        self.b, self.p = b, 0

    def _u(self, fmt, n):
        v = struct.unpack_from(fmt, self.b, self.p)[0]
        self.p += n
        return v

    def i8(self): return self._u('>b', 1)
    def i16(self): return self._u('>h', 2)
    def i32(self): return self._u('>i', 4)
    def bool(self): return self._u('>?', 1)

    def str(self):
        n = self.i16()
        if n < 0:
            return None
        s = self.b[self.p:self.p + n].decode()
        self.p += n
        return s

    def arr(self, fn):
        n = self.i32()
        return None if n < 0 else [fn() for _ in range(n)]


class RawBroker:
    """One broker, one connection, non-flexible request versions only."""

    def __init__(self, bid, host, port):
        self.bid, self.host, self.port = bid, host, port
        self.sock, self.corr = None, 0

    def __str__(self):
        return f'broker {self.bid} ({self.host}:{self.port})'

    def close(self):
        if self.sock:
            self.sock.close()
        self.sock = None

    def call(self, key, version, body, timeout):
        timeout = max(timeout, 0.05)
        try:
            if self.sock is None:
                self.sock = socket.create_connection((self.host, self.port), timeout=timeout)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.settimeout(timeout)
            self.corr += 1
            msg = struct.pack('>hhi', key, version, self.corr) + _str('kafka_clients.py') + body
            self.sock.sendall(struct.pack('>i', len(msg)) + msg)
            (n,) = struct.unpack('>i', self._recv(4))
            r = Reader(self._recv(n))
            if r.i32() != self.corr:
                raise IOError('correlation id mismatch')
            return r
        except Exception:
            self.close()
            raise

    def _recv(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError('connection closed by broker')
            buf += chunk
        return buf

    def metadata(self, topics, timeout=2.0):
        """Metadata v4 -> (broker ids, controller id, {topic: (error, [(perr, leader, replicas)])})."""
        r = self.call(3, 4, _arr(topics, _str) + b'\x00', timeout)
        r.i32()  # throttle
        brokers = r.arr(lambda: (r.i32(), r.str(), r.i32(), r.str()))
        r.str()  # cluster id
        controller = r.i32()
        topics_out = {}
        for _ in range(r.i32()):
            err, name, _internal = r.i16(), r.str(), r.bool()
            parts = r.arr(lambda: (r.i16(), r.i32(), r.i32(), r.arr(r.i32), r.arr(r.i32)))
            topics_out[name] = (err, sorted((p[1], p[0], p[2], p[3]) for p in parts))
        return [b[0] for b in brokers], controller, topics_out

    def topic_configs(self, topic, timeout):
        """DescribeConfigs v1 for one topic -> (error, {name: value})."""
        body = _arr([topic], lambda t: struct.pack('>b', 2) + _str(t) + _arr(None, _str)) + b'\x00'
        r = self.call(32, 1, body, timeout)
        r.i32()
        out = {}
        for _ in range(r.i32()):
            err, _msg, _rtype, _rname = r.i16(), r.str(), r.i8(), r.str()
            cfg = {}
            for _ in range(r.i32()):
                name, value = r.str(), r.str()
                r.bool(), r.i8(), r.bool()
                r.arr(lambda: (r.str(), r.str(), r.i8()))
                cfg[name] = value
            out = (err, cfg)
        return out

    def acls(self, acl, timeout):
        """DescribeAcls v1 with an exact filter -> (error, [(rtype, name, pattern, principal, host, op, perm)])."""
        rtype, name, pattern, principal, host, op, perm = acl
        body = (struct.pack('>b', rtype) + _str(name) + struct.pack('>b', pattern) + _str(principal)
                + _str(host) + struct.pack('>bb', op, perm))
        r = self.call(29, 1, body, timeout)
        r.i32()
        err, _msg = r.i16(), r.str()
        found = []
        for _ in range(r.i32()):
            rt, rn, pt = r.i8(), r.str(), r.i8()
            for a in r.arr(lambda: (r.str(), r.str(), r.i8(), r.i8())):
                found.append((rt, rn, pt) + a)
        return err, found


def parse_brokers(spec):
    out = []
    for item in spec.split(','):
        bid, addr = item.split('=')
        host, port = addr.rsplit(':', 1)
        out.append(RawBroker(int(bid), host, int(port)))
    return out


def wait_visible(brokers, step, expect, check, t_ack):
    """check(raw, remaining_s) -> (ok, seen). Every broker polled on its own thread."""
    deadline = t_ack + VISIBILITY_S
    results = {}

    def poll(b):
        seen = 'nothing (no reply)'
        while True:
            remaining = deadline - time.monotonic()
            try:
                ok, seen = check(b, min(max(remaining, 0.05), 0.5))
            except Exception as e:  # a broker that cannot answer simply has not shown it
                ok, seen = False, f'error: {e!r}'
            now = time.monotonic()
            if ok and now <= deadline:
                results[b.bid] = (True, now - t_ack, seen)
                return
            if now >= deadline:
                results[b.bid] = (False, now - t_ack, seen)
                return
            time.sleep(0.005)

    threads = [threading.Thread(target=poll, args=(b,)) for b in brokers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for b in brokers:
        ok, _dt, seen = results[b.bid]
        if not ok:
            fail(f'{step}: {b} did not show {expect} within {VISIBILITY_S * 1000:.0f} ms; last seen: {seen}')
    times = ', '.join(f'{b.bid}: {results[b.bid][1] * 1000:.1f} ms' for b in brokers)
    worst = max(r[1] for r in results.values()) * 1000
    print(f'ok {step} visible on {len(brokers)} brokers in {worst:.0f} ms ({times})', flush=True)


# ---------------------------------------------------------------- admin clients

class KafkaPythonAdmin:
    """kafka-python KafkaAdminClient. Every method returns (error_code, message) unless noted."""

    def __init__(self, bootstrap, timeout_s=10.0):
        from kafka import KafkaAdminClient
        self.timeout_ms = int(timeout_s * 1000)
        self.c = KafkaAdminClient(bootstrap_servers=bootstrap.split(','), request_timeout_ms=self.timeout_ms,
                                  bootstrap_timeout_ms=self.timeout_ms, client_id='kafka_clients.py')

    def close(self):
        self.c.close()

    def _guard(self, fn):
        from kafka.errors import KafkaError
        try:
            return fn()
        except KafkaError as e:
            code = getattr(e, 'errno', None)
            return (code if code is not None else TRANSPORT), f'{type(e).__name__}: {e}'
        except RuntimeError as e:  # _send_request_to_controller: NOT_CONTROLLER twice in a row
            if 'controller' in str(e):
                return 41, str(e)
            raise

    def create_topic(self, name, partitions, rf, configs):
        def go():
            r = self.c.create_topics({name: {'num_partitions': partitions, 'replication_factor': rf,
                                             'configs': configs}},
                                     timeout_ms=self.timeout_ms, raise_errors=False)
            t = r['topics'][0]
            return t['error_code'], t.get('error_message')
        return self._guard(go)

    def create_partitions(self, name, total):
        def go():
            r = self.c.create_partitions({name: total}, timeout_ms=self.timeout_ms, raise_errors=False)
            return r.results[0].error_code, r.results[0].error_message
        return self._guard(go)

    def _acl(self, acl):
        from kafka.admin import ACL, ACLFilter, ResourcePattern, ResourcePatternFilter
        from kafka.admin import ResourceType, ACLOperation, ACLPermissionType, ACLResourcePatternType
        rtype, name, pattern, principal, host, op, perm = acl
        rp = (ResourceType(rtype), name, ACLResourcePatternType(pattern))
        return (ACL(principal, host, ACLOperation(op), ACLPermissionType(perm), ResourcePattern(*rp)),
                ACLFilter(principal, host, ACLOperation(op), ACLPermissionType(perm), ResourcePatternFilter(*rp)))

    def create_acl(self, acl):
        def go():
            r = self.c.create_acls([self._acl(acl)[0]])
            if r['failed']:
                return r['failed'][0].errno, r['failed'][0].__name__
            return 0, None
        return self._guard(go)

    def describe_acls(self, acl):
        """-> list of (rtype, name, pattern, principal, host, op, perm)"""
        found, _err = self.c.describe_acls(self._acl(acl)[1])
        return [(a.resource_pattern.resource_type, a.resource_pattern.resource_name, a.resource_pattern.pattern_type,
                 a.principal, a.host, a.operation, a.permission_type) for a in found]

    def delete_acl(self, acl):
        def go():
            (_f, matched, err), = self.c.delete_acls([self._acl(acl)[1]])
            return (err.errno or 0), f'{len(matched)} matched'
        return self._guard(go)

    def alter_config(self, topic, key, value):
        # kafka-python >= 3.0 sends IncrementalAlterConfigs (key 44) when incremental=True;
        # raise_on_unknown=False skips its extra DescribeConfigs pre-check.
        from kafka.admin import ConfigResource, ConfigResourceType
        def go():
            r = self.c.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, {key: value})],
                                     incremental=True, raise_on_unknown=False)
            res = r['topic'][topic]
            return (0, None) if res == 'OK' else (-2, res)
        return self._guard(go)

    def describe_configs(self, topic):
        """-> {name: value}"""
        from kafka.admin import ConfigResource, ConfigResourceType
        r = self.c.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter='all')
        return {k: v['value'] for k, v in r['topic'][topic].items()}

    def delete_topic(self, name):
        def go():
            t = self.c.delete_topics([name], timeout_ms=self.timeout_ms, raise_errors=False)['topics'][0]
            return t['error_code'], t.get('error_message')
        return self._guard(go)


class ConfluentAdmin:
    """confluent-kafka AdminClient (librdkafka)."""

    def __init__(self, bootstrap, timeout_s=10.0):
        from confluent_kafka.admin import AdminClient
        self.t = timeout_s
        self.c = AdminClient({'bootstrap.servers': bootstrap, 'client.id': 'kafka_clients.py',
                              'socket.timeout.ms': int(timeout_s * 1000), 'socket.connection.setup.timeout.ms': 5000,
                              'reconnect.backoff.max.ms': 500})

    def close(self):
        pass

    def _wait(self, futures):
        import concurrent.futures
        from confluent_kafka import KafkaException
        (fut,) = futures.values() if isinstance(futures, dict) else (futures,)
        try:
            return 0, fut.result(timeout=self.t + 1)
        except KafkaException as e:
            err = e.args[0]
            return err.code(), err.str()
        except concurrent.futures.TimeoutError:
            return TRANSPORT, "no result within %.0f s" % (self.t + 1)

    def _kw(self):
        return {'request_timeout': self.t}

    def create_topic(self, name, partitions, rf, configs):
        from confluent_kafka.admin import NewTopic
        code, res = self._wait(self.c.create_topics([NewTopic(name, partitions, rf, config=configs)],
                                                    operation_timeout=self.t, **self._kw()))
        return code, (res if code else None)

    def create_partitions(self, name, total):
        from confluent_kafka.admin import NewPartitions
        code, res = self._wait(self.c.create_partitions([NewPartitions(name, total)],
                                                        operation_timeout=self.t, **self._kw()))
        return code, (res if code else None)

    @staticmethod
    def _acl(acl, filt=False):
        from confluent_kafka.admin import (AclBinding, AclBindingFilter, ResourceType, ResourcePatternType,
                                           AclOperation, AclPermissionType)
        rtype, name, pattern, principal, host, op, perm = acl
        cls = AclBindingFilter if filt else AclBinding
        return cls(ResourceType(rtype), name, ResourcePatternType(pattern), principal, host,
                   AclOperation(op), AclPermissionType(perm))

    def create_acl(self, acl):
        code, res = self._wait(self.c.create_acls([self._acl(acl)], **self._kw()))
        return code, (res if code else None)

    def describe_acls(self, acl):
        code, res = self._wait(self.c.describe_acls(self._acl(acl, True), **self._kw()))
        if code:
            raise RuntimeError(f'describe_acls: error {code}: {res}')
        return [(b.restype.value, b.name, b.resource_pattern_type.value, b.principal, b.host,
                 b.operation.value, b.permission_type.value) for b in res]

    def delete_acl(self, acl):
        code, res = self._wait(self.c.delete_acls([self._acl(acl, True)], **self._kw()))
        return code, (res if code else f'{len(res)} matched')

    def alter_config(self, topic, key, value):
        from confluent_kafka.admin import ConfigResource, ConfigEntry, AlterConfigOpType, ResourceType
        res = ConfigResource(ResourceType.TOPIC, topic,
                             incremental_configs=[ConfigEntry(key, value, incremental_operation=AlterConfigOpType.SET)])
        code, out = self._wait(self.c.incremental_alter_configs([res], **self._kw()))
        return code, (out if code else None)

    def describe_configs(self, topic):
        from confluent_kafka.admin import ConfigResource, ResourceType
        code, res = self._wait(self.c.describe_configs([ConfigResource(ResourceType.TOPIC, topic)], **self._kw()))
        if code:
            raise RuntimeError(f'describe_configs: error {code}: {res}')
        return {k: e.value for k, e in res.items()}

    def delete_topic(self, name):
        code, res = self._wait(self.c.delete_topics([name], operation_timeout=self.t, **self._kw()))
        return code, (res if code else None)


def make_admin(kind, bootstrap, timeout_s=10.0):
    return (KafkaPythonAdmin if kind == 'kafka-python' else ConfluentAdmin)(bootstrap, timeout_s)


# ---------------------------------------------------------------- subcommands

def expect_code(step, got, want):
    code, msg = got
    if code != want:
        fail(f'{step}: expected error code {want}, got {code} ({msg})')


def check_topic(topic, partitions, rf):
    def check(b, t):
        _, _, topics = b.metadata([topic], t)
        err, parts = topics.get(topic, (None, []))
        good = (err == 0 and len(parts) == partitions
                and all(perr == 0 and leader >= 0 and len(reps) == rf for _, perr, leader, reps in parts))
        return good, f'error={err} partitions=' + ','.join(f'{i}:err{e}/leader{l}/replicas{r}'
                                                           for i, e, l, r in parts)
    return check


def cmd_admin(a):
    brokers = parse_brokers(a.brokers)
    rf = min(3, len(brokers))
    topic = f'{a.prefix}-t1'
    acl = (2, topic, 3, 'User:alice', '*', 3, 3)  # TOPIC, LITERAL, READ, ALLOW
    t_start = time.monotonic()
    ids = sorted(b.bid for b in brokers)
    for b in brokers:  # also opens every raw connection before timing anything
        try:
            listed, controller, _ = b.metadata([], 3.0)
        except Exception as e:
            fail(f'connect: {b} does not answer Metadata: {e!r}')
        if not set(ids) <= set(listed):
            print(f'warn {b} lists brokers {sorted(listed)}, --brokers has {ids}', flush=True)
        if controller not in listed:
            print(f'warn {b} reports controller_id {controller}, not one of its brokers {sorted(listed)} '
                  '(admin clients send CreateTopics there)', flush=True)
    admin = make_admin(a.client, a.bootstrap)
    print(f'ok connect {a.client} admin client to {a.bootstrap}; rf={rf}; topic {topic}', flush=True)

    def cfg_check(want):
        def check(b, t):
            err, cfg = b.topic_configs(topic, t)
            return err == 0 and all(cfg.get(k) == v for k, v in want.items()), \
                f'error={err} ' + ' '.join(f'{k}={cfg.get(k)}' for k in want)
        return check

    def both(c1, c2):
        def check(b, t):
            ok1, s1 = c1(b, t)
            ok2, s2 = c2(b, t)
            return ok1 and ok2, s1 + '; ' + s2
        return check

    expect_code('create_topic', admin.create_topic(topic, 3, rf, {'cleanup.policy': 'compact'}), 0)
    wait_visible(brokers, 'create_topic', f'{topic} with 3 partitions (rf {rf}, leaders) and cleanup.policy=compact',
                 both(check_topic(topic, 3, rf), cfg_check({'cleanup.policy': 'compact'})), time.monotonic())

    expect_code('create_topic_again', admin.create_topic(topic, 3, rf, {}), 36)
    print('ok create_topic_again -> TOPIC_ALREADY_EXISTS (36)', flush=True)
    expect_code('create_invalid_name', admin.create_topic('bad/name', 1, 1, {}), 17)
    print('ok create_invalid_name -> INVALID_TOPIC_EXCEPTION (17)', flush=True)

    expect_code('create_partitions', admin.create_partitions(topic, 5), 0)
    wait_visible(brokers, 'create_partitions', f'{topic} with 5 partitions', check_topic(topic, 5, rf), time.monotonic())

    def acl_check(present):
        def check(b, t):
            err, found = b.acls(acl, t)
            return err == 0 and (acl in found) == present, f'error={err} acls={found}'
        return check

    expect_code('create_acl', admin.create_acl(acl), 0)
    wait_visible(brokers, 'create_acl', f'ACL {acl}', acl_check(True), time.monotonic())
    got = admin.describe_acls(acl)
    if acl not in got:
        fail(f'describe_acls: {a.client} admin client did not return {acl}; got {got}')
    print(f'ok describe_acls via {a.client} returns the ACL', flush=True)

    want = {'retention.ms': '3600000', 'cleanup.policy': 'compact'}
    expect_code('alter_config', admin.alter_config(topic, 'retention.ms', '3600000'), 0)
    wait_visible(brokers, 'alter_config', 'retention.ms=3600000 and cleanup.policy=compact', cfg_check(want),
                 time.monotonic())
    got = admin.describe_configs(topic)
    if any(got.get(k) != v for k, v in want.items()):
        fail(f'describe_configs: {a.client} admin client shows ' + ' '.join(f'{k}={got.get(k)}' for k in want))
    print(f'ok describe_configs via {a.client}: retention.ms=3600000 cleanup.policy=compact', flush=True)

    code, msg = admin.delete_acl(acl)
    expect_code('delete_acl', (code, msg), 0)
    wait_visible(brokers, 'delete_acl', 'the ACL gone', acl_check(False), time.monotonic())

    expect_code('delete_topic', admin.delete_topic(topic), 0)

    def gone(b, t):
        _, _, topics = b.metadata([topic], t)
        err = topics.get(topic, (3, []))[0]
        return err == 3, f'error={err}'
    wait_visible(brokers, 'delete_topic', f'{topic} gone (UNKNOWN_TOPIC_OR_PARTITION)', gone, time.monotonic())
    admin.close()
    print(f'PASS admin {a.client} in {time.monotonic() - t_start:.1f} s', flush=True)


def cmd_create_loop(a):
    deadline = time.monotonic() + a.timeout_s
    acked = open(a.out, 'a')
    maybe = open(a.out + '.maybe', 'a')
    admin, retries, n_maybe, t0 = None, 0, 0, time.monotonic()

    def remaining():
        r = deadline - time.monotonic()
        if r <= 0:
            fail(f'create-loop: --timeout-s {a.timeout_s} reached')
        return r

    for i in range(a.count):
        name, retried = f'{a.prefix}-{i}', False
        while True:
            if admin is None:
                try:
                    admin = make_admin(a.client, a.bootstrap, min(10.0, max(remaining(), 1.0)))
                except Exception as e:
                    print(f'retry {name}: admin client not ready: {e!r}', flush=True)
                    time.sleep(0.2)
                    continue
            code, msg = admin.create_topic(name, 1, 1, {})
            remaining()
            if code == 0:
                acked.write(name + '\n')
                acked.flush()
                break
            if code == 36 and retried:
                maybe.write(name + '\n')
                maybe.flush()
                n_maybe += 1
                print(f'maybe {name}: retry says TOPIC_ALREADY_EXISTS (created, not acknowledged)', flush=True)
                break
            if code in RETRIABLE or code == TRANSPORT:
                retries += 1
                retried = True
                print(f'retry {name}: {RETRIABLE.get(code, "transport")} ({code}): {msg}', flush=True)
                if code == TRANSPORT and a.client == 'kafka-python':
                    admin.close()  # kafka-python caches the controller id; start over from bootstrap
                    admin = None
                time.sleep(0.1)
                continue
            fail(f'create-loop: {name}: non-retriable error {code}: {msg}')
    if admin:
        admin.close()
    print(f'PASS create-loop {a.count} topics ({a.count - n_maybe} acknowledged, {n_maybe} maybe, '
          f'{retries} retries) in {time.monotonic() - t0:.1f} s', flush=True)


def cmd_list_topics(a):
    host, port = a.bootstrap.split(',')[0].rsplit(':', 1)
    _, _, topics = RawBroker(-1, host, int(port)).metadata(None, a.timeout_s)
    for name in sorted(topics):
        print(name)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    s = sub.add_parser('admin')
    s.add_argument('--client', choices=['kafka-python', 'confluent'], required=True)
    s.add_argument('--bootstrap', required=True)
    s.add_argument('--brokers', required=True, help='ID=HOST:PORT[,ID=HOST:PORT..]')
    s.add_argument('--prefix', default=f'kc{os.getpid()}')
    s = sub.add_parser('create-loop')
    s.add_argument('--client', choices=['kafka-python', 'confluent'], required=True)
    s.add_argument('--bootstrap', required=True)
    s.add_argument('--prefix', required=True)
    s.add_argument('--count', type=int, required=True)
    s.add_argument('--out', required=True)
    s.add_argument('--timeout-s', type=float, default=120.0)
    s = sub.add_parser('list-topics')
    s.add_argument('--bootstrap', required=True)
    s.add_argument('--timeout-s', type=float, default=5.0)
    a = p.parse_args()
    try:
        {'admin': cmd_admin, 'create-loop': cmd_create_loop, 'list-topics': cmd_list_topics}[a.cmd](a)
    except Exception as e:  # a client library raising instead of returning an error code
        fail(f'{a.cmd}: {type(e).__name__}: {e}')


if __name__ == '__main__':
    main()
