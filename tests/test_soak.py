"""A short soak (benchmarks/soak.py): raw clients on several hosts join and leave
dynamic namespaces against a uvicorn subprocess; no message may be lost and no
namespace may outlive the run. The hostile variant adds a host whose clients
flood the server meanwhile."""

from __future__ import annotations

from pathlib import Path

from _helpers import load_script

soak = load_script(Path(__file__).resolve().parent.parent / "benchmarks" / "soak.py")


async def test_short_soak_loses_nothing_and_retires_everything() -> None:
    config = soak.Config(
        ws=50,
        polling=10,
        hosts=4,
        namespaces=20,
        duration=14.0,
        ramp=2.0,
        retirement=0.3,
        idle=1.5,
        ack_timeout=15.0,
    )
    report = await soak.run(config)
    messages, namespaces = report["messages"], report["namespaces"]
    assert messages["sent"] > 500, report
    assert messages["lost"] == 0 and messages["wrong"] == 0, report
    assert messages["sent"] == messages["acked"] == messages["handled_by_server"], report
    assert report["connects"]["failed"] == 0 and report["connects"]["sessions_lost"] == 0, report
    assert namespaces["created"] > config.namespaces, report  # some were retired and re-created
    assert namespaces["live_at_end"] == 0, report
    assert namespaces["created"] == namespaces["retired"] == namespaces["retire_callbacks"]
    assert report["server_at_end"] == {"handlers": 0, "rooms": 0, "engineio_sessions": 0}
    assert report["server_log"]["lines"] == 0, report["server_log"]
    assert soak.ok(report)


async def test_short_soak_with_a_hostile_host() -> None:
    """CONNECT floods to new names, near-limit POSTs and handlers that raise, from
    one more host: the well-behaved clients lose nothing, the flood is held to
    max_namespaces_per_host, and every namespace retires at the end."""
    config = soak.Config(
        ws=30,
        polling=6,
        hosts=3,
        namespaces=12,
        duration=8.0,
        ramp=1.0,
        retirement=0.3,
        idle=1.5,
        ack_timeout=15.0,
        hostile=True,
        max_namespaces_per_host=200,
        flood_ws=2,
        flood_polling=1,
        near_limit=1,
        near_limit_rate=2.0,
        raisers=1,
    )
    report = await soak.run(config)
    messages, namespaces, hostile = report["messages"], report["namespaces"], report["hostile"]
    assert messages["sent"] > 200, report
    assert messages["lost"] == 0 and messages["wrong"] == 0, report
    assert messages["sent"] == messages["acked"] == messages["handled_by_server"], report
    assert report["connects"]["failed"] == 0 and report["connects"]["refused"] == 0, report
    assert hostile["ran"] and hostile["connects_sent"] > 1000, hostile
    answers = hostile["answers"]
    # POSTs of 16 CONNECTs never reach the per-session limit: refused by the per-host one.
    assert answers["new names, polling"].get("Too many namespaces", 0) > 0, hostile
    assert answers["new names, websocket"].get("Too many namespaces", 0) > 0, hostile
    raises = answers["/raises (connect handler raises)"]  # (or refused by the host's limit)
    assert raises.get("Connection rejected by server", 0) > 0 and "accepted" not in raises, hostile
    # Bounded by the limit, plus one per hostile session: the middleware checks the
    # limit before it counts the namespace being created, so CONNECTs of several
    # sessions in the same turn of the event loop can all pass the check.
    sessions = config.flood_ws + config.flood_polling + config.near_limit + config.raisers
    assert hostile["namespaces_peak"] <= config.max_namespaces_per_host + sessions, hostile
    assert hostile["near_limit_posts"] >= 3, hostile
    assert set(hostile["post_statuses"]) == {"200"}, hostile
    log = report["server_log"]["messages"]
    assert log.get("connect handler raised", 0) > 0 and log.get("disconnect handler raised", 0) > 0
    assert log.get("other", 0) == 0, report["server_log"]
    assert report["server_refused"]["limit"] > 0, report
    assert namespaces["live_at_end"] == 0, report
    assert namespaces["created"] == namespaces["retired"] == namespaces["retire_callbacks"]
    assert report["server_at_end"] == {"handlers": 0, "rooms": 0, "engineio_sessions": 0}
    assert soak.ok(report)
