#!/usr/bin/env python3
"""Drive metaquorum's ZooKeeper front with kazoo, a real ZooKeeper client library.

Owns the checks that a ZooKeeper user's own client, and the recipes built on it, work against
the quorum: the version kazoo reads from `envi`, paths, data and versions, sequential
ephemerals, data and children watches, transactions (multi), kazoo's exceptions for
ZooKeeper's error codes, and the Lock and Counter recipes across two sessions; closing a
session deletes its ephemerals for the other.

Usage: kazoo_front.py --hosts 127.0.0.1:PORT[,...]
Needs Python 3.11 and kazoo. Exit status 0 means pass. Every wait has a deadline.
"""
import argparse
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, LockTimeout, NodeExistsError, NoNodeError

DEADLINE_S = 30


def wait_until(what, check):
    end = time.monotonic() + DEADLINE_S
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def client(hosts):
    zk = KazooClient(hosts=hosts, timeout=10)
    zk.start(timeout=DEADLINE_S)
    return zk


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hosts", required=True)
    hosts = parser.parse_args().hosts
    a = client(hosts)
    b = client(hosts)

    version = a.server_version()
    assert version[:2] == (3, 8), version

    # Paths, data, versions.
    a.ensure_path("/kazoo/app")
    a.set("/kazoo/app", b"one")
    data, stat = b.get("/kazoo/app")
    assert data == b"one" and stat.version == 1, (data, stat)
    try:
        a.set("/kazoo/app", b"two", version=0)
        raise AssertionError("a stale version was accepted")
    except BadVersionError:
        pass
    try:
        a.create("/kazoo/app")
        raise AssertionError("a second create was accepted")
    except NodeExistsError:
        pass
    try:
        a.get("/kazoo/missing")
        raise AssertionError("a missing node was found")
    except NoNodeError:
        pass

    # Sequential ephemerals: ZooKeeper's %010d suffix, and they go with their session.
    seq = [a.create("/kazoo/app/w-", b"", ephemeral=True, sequence=True) for _ in range(3)]
    assert seq == [f"/kazoo/app/w-{i:010d}" for i in range(3)], seq
    assert sorted(b.get_children("/kazoo/app")) == [s.rsplit("/", 1)[1] for s in seq]

    # Watches: a DataWatch and a ChildrenWatch set by b see a's changes.
    seen_data = []
    seen_children = []
    b.DataWatch("/kazoo/app", lambda data, stat: seen_data.append(data))
    b.ChildrenWatch("/kazoo/app", lambda children: seen_children.append(sorted(children)))
    a.set("/kazoo/app", b"watched")
    wait_until("the data watch", lambda: b"watched" in seen_data)
    a.create("/kazoo/app/extra")
    wait_until("the children watch", lambda: any("extra" in c for c in seen_children))

    # A transaction: all or nothing.
    t = a.transaction()
    t.create("/kazoo/t1", b"x")
    t.check("/kazoo/app", version=a.exists("/kazoo/app").version)
    t.set_data("/kazoo/app", b"in-txn")
    results = t.commit()
    assert results[0] == "/kazoo/t1" and results[1] is True, results
    t = a.transaction()
    t.create("/kazoo/t2", b"x")
    t.check("/kazoo/app", version=999)
    results = t.commit()
    assert isinstance(results[1], BadVersionError), results
    assert a.exists("/kazoo/t2") is None, "a failed transaction left a node"

    # Recipes across two sessions.
    lock_a = a.Lock("/kazoo/lock", "a")
    lock_b = b.Lock("/kazoo/lock", "b")
    assert lock_a.acquire(timeout=DEADLINE_S)
    try:
        lock_b.acquire(timeout=1)
        raise AssertionError("two sessions held the lock")
    except LockTimeout:
        pass
    lock_a.release()
    assert lock_b.acquire(timeout=DEADLINE_S)
    lock_b.release()
    counter = a.Counter("/kazoo/counter")
    counter += 5
    b.Counter("/kazoo/counter").__add__(3)
    assert a.Counter("/kazoo/counter").value == 8, a.Counter("/kazoo/counter").value

    # Closing a's session deletes its ephemerals, and b sees them go.
    a.stop()
    a.close()
    wait_until(
        "a's ephemerals to go with its session",
        lambda: not [c for c in b.get_children("/kazoo/app") if c.startswith("w-")],
    )
    b.stop()
    b.close()
    print("kazoo: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any failure is the test's failure
        print(f"FAILED: {e!r}", file=sys.stderr)
        raise
