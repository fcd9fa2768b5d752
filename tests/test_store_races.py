"""Check-then-act on the database, raced for real on SQLite and PostgreSQL: a one-time code is
used once, an alert is acknowledged and resolved once, and a resolved alert stays resolved.
Each racer has its own connection, as the API's worker threads and several controllers do."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from controller.enroll import code_hash, new_code
from controller.state import AlertKey, OpenAlert
from controller.store import Store

T = TypeVar("T")
KEY = AlertKey(center="ba-dinh", agent="pi-1", device="printer-1", code="printer.jammed")


def race(target: str, racers: int, job: Callable[[Store, int], T]) -> list[T]:
    """`racers` threads, each on its own Store, released at once to run job(store, index)."""
    stores = [Store(target) for _ in range(racers)]
    start = threading.Barrier(racers)
    results: list[T] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            start.wait(10)
            out = job(stores[i], i)
            with lock:
                results.append(out)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for s in stores:
        s.close()
    assert not errors, errors
    assert len(results) == racers
    return results


def test_fifteen_codes_four_concurrent_uses_each_fifteen_pass(target: str) -> None:
    store = Store(target)
    now = time.time()
    codes = [new_code() for _ in range(15)]
    for i, code in enumerate(codes):
        store.add_enrollment(code_hash(code), "ba-dinh", f"pi-{i}", "test", now, now + 3600)
    passed: list[str] = []
    for code in codes:  # 4 requests at once per code, as 4 boxes typing the same code
        got = race(target, 4, lambda s, i, c=code: s.take_enrollment(code_hash(c), time.time(),
                                                                      f"10.0.0.{i}"))
        passed += [code for box in got if box is not None]
    assert sorted(passed) == sorted(codes)  # each code exactly once
    assert sum(len(a) for a in store.enrolled_agents().values()) == 15
    store.close()


def test_a_code_given_back_works_again_and_only_once(target: str) -> None:
    store = Store(target)
    now = time.time()
    code = new_code()
    store.add_enrollment(code_hash(code), "ba-dinh", "pi-1", "test", now, now + 3600)
    taken_at = now + 1
    assert store.take_enrollment(code_hash(code), taken_at, "a") == ("ba-dinh", "pi-1")
    store.release_enrollment(code_hash(code), taken_at)  # the broker's files could not be made
    got = race(target, 4, lambda s, i: s.take_enrollment(code_hash(code), time.time(), str(i)))
    assert [g for g in got if g is not None] == [("ba-dinh", "pi-1")]
    store.close()


def test_acks_and_resolves_at_once_change_an_alert_once_and_resolved_stays(target: str) -> None:
    store = Store(target)
    for round_ in range(5):
        (change,) = store.write([OpenAlert(key=KEY, severity="critical",
                                           device_name="Máy in quầy 1", params={},
                                           at=1000.0 + round_)])
        row = change.alert

        def act(s: Store, i: int, alert_id: int = row.id) -> str:
            if i % 2:
                return s.resolve(alert_id, f"op{i}", "done").state
            return s.ack(alert_id, f"op{i}", "on it").state

        race(target, 6, act)
        final = store.alert(row.id)
        events = [h["event"] for h in store.history(row.id)]
        assert final.state == "resolved", (round_, final)  # an ack never reopens it
        assert events.count("resolved") == 1, events
        assert events.count("acknowledged") <= 1, events
    store.close()


def test_a_month_sent_meanwhile_is_not_claimed_again(target: str) -> None:
    """Controller B finds A's claim stale and retries it while A finishes sending: B must not
    take the month A has just marked sent (the UPDATE matched on claimed_at alone)."""
    a, b = Store(target), Store(target)
    assert a.claim_report("2026-11", 1000.0, retry_after_s=60)
    real_execute = b.db.execute

    def execute(sql: str, params: Any = ()) -> Any:
        rows = real_execute(sql, params)
        if sql.startswith("SELECT status, claimed_at FROM report_runs"):
            row = rows.fetchone()
            a.report_sent("2026-11", 1500.0)  # A's mail went out between B's read and write

            class One:
                def fetchone(self) -> Any:
                    return row
            return One()
        return rows

    if target.startswith("postgres"):
        b.db.execute = execute  # type: ignore[method-assign]
        assert not b.claim_report("2026-11", 2000.0, retry_after_s=60)
    else:
        # SQLite's BEGIN IMMEDIATE holds the write lock from the SELECT on: A waits for B, so
        # the interleaving cannot happen; the claim of a stale, unsent month still works
        assert b.claim_report("2026-11", 2000.0, retry_after_s=60)
        b.report_sent("2026-11", 2001.0)
    assert [r["status"] for r in a.report_runs()] == ["sent"]
    assert not a.claim_report("2026-11", 9000.0, retry_after_s=60)
    a.close()
    b.close()
