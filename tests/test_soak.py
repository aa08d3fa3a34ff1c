"""A short soak (benchmarks/soak.py): raw clients on several hosts join and leave
dynamic namespaces against a uvicorn subprocess; no message may be lost and no
namespace may outlive the run."""

from __future__ import annotations

from pathlib import Path

from conftest import load_script

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
    assert soak.ok(report)
