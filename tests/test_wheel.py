"""The wheel ships the status page's templates: build it, install it into a fresh
virtualenv and render the page from the installed package, outside the checkout.

How the fresh virtualenv gets its dependencies: the wheel is installed with
``--no-deps --no-index`` (no network), and the runtime dependencies
(python-socketio, jinja2, ...) come from this development venv through a
``.pth`` line that appends its site-packages *after* the fresh venv's own. Such
a line adds the folder only (the editable install's own ``.pth`` hook inside it
is not run), so ``dynamic_io_asgi`` can only be imported from the wheel; the
render script checks that, and that the templates came from the installed
package.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STEP_TIMEOUT = 240

RENDER = textwrap.dedent(
    """
    import asyncio
    import json
    from pathlib import Path

    import socketio

    import dynamic_io_asgi
    from dynamic_io_asgi import DynamicIO


    async def main():
        app = DynamicIO(
            socketio.AsyncServer(async_mode="asgi"), host="main.test", public_status=True
        )
        await app.of("/chat", host="a.test")
        await app.of("/lobby")
        sent = []

        async def receive():
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/socket.io/status",
            "raw_path": b"/socket.io/status",
            "query_string": b"refresh=5",
            "root_path": "",
            "headers": [(b"host", b"main.test"), (b"accept", b"text/html")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        await app(scope, receive, send)
        await app.aclose()
        loader = app.status_page.environment.loader
        print(json.dumps({
            "package": dynamic_io_asgi.__file__,
            "searchpath": [p for sub in loader.loaders[:1] for p in sub.searchpath],
            "status": sent[0]["status"],
            "headers": {k.decode(): v.decode() for k, v in sent[0]["headers"]},
            "body": sent[1]["body"].decode(),
        }))


    asyncio.run(main())
    """
)


def run(*command: str | Path, cwd: Path) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    # With hatchling in the development venv no index is needed; without it,
    # build fetches it into an isolated environment (slower, needs PyPI).
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-isolation"]
    run(sys.executable, "-m", "build", "--wheel", *isolation, "--outdir", dist, ROOT, cwd=dist)
    (built,) = dist.glob("dynamic_io_asgi-*.whl")
    return built


def test_the_wheel_contains_the_templates(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        files = set(archive.namelist())
    assert "dynamic_io_asgi/templates/status.html" in files
    assert {"dynamic_io_asgi/_status.py", "dynamic_io_asgi/py.typed"} <= files
    assert not any(name.startswith("templates/") for name in files)


def test_the_installed_package_renders_the_status_page(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", python]
    run(*pip, "install", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(run(python, "-c", purelib, cwd=tmp_path).strip())
    (site / "zz_development_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    assert (site / "dynamic_io_asgi" / "templates" / "status.html").is_file()

    (tmp_path / "render.py").write_text(RENDER)
    page = json.loads(run(python, tmp_path / "render.py", cwd=tmp_path))

    assert Path(page["package"]).parent == site / "dynamic_io_asgi"
    assert page["searchpath"] == [str(site / "dynamic_io_asgi" / "templates")]
    assert page["status"] == 200
    assert page["headers"]["content-type"] == "text/html; charset=utf-8"
    assert page["headers"]["cache-control"] == "no-store"
    html = page["body"]
    assert html.startswith("<!DOCTYPE html>")
    assert ">//a.test/chat<" in html and ">/lobby<" in html
    assert '<meta http-equiv="refresh" content="5">' in html
    assert str(ROOT) not in html


def test_the_sdist_runs_the_pure_logic_tests(tmp_path: Path) -> None:
    """The sdist is self-sufficient: unpacked, its own pure-logic tests (and the fuzz
    corpus replay) pass against its own copy of the package."""
    dist = tmp_path / "dist"
    dist.mkdir()
    isolation = [] if importlib.util.find_spec("hatchling") is None else ["--no-isolation"]
    run(sys.executable, "-m", "build", "--sdist", *isolation, "--outdir", dist, ROOT, cwd=dist)
    (built,) = dist.glob("dynamic_io_asgi-*.tar.gz")
    with tarfile.open(built) as archive:
        names = archive.getnames()
        archive.extractall(tmp_path, filter="data")
    top = tmp_path / built.name.removesuffix(".tar.gz")
    assert not any("node_modules" in name for name in names)
    for needed in ("LICENSE", "fuzz/corpus", "scripts/test.sh", "docs/design.md"):
        assert (top / needed).exists(), needed
    # (The quick ones: test_packets.py and test_session.py are long hypothesis runs.)
    pure = [
        "tests/test_hosts.py",
        "tests/test_query.py",
        "tests/test_retirement_plan.py",
        "tests/test_fuzz_regressions.py",
    ]
    output = run(
        sys.executable,
        "-c",
        "import sys, pytest; sys.path.insert(0, '.'); "
        "import dynamic_io_asgi; print('package', dynamic_io_asgi.__file__); "
        f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', *{pure!r}]))",
        cwd=top,
    )
    assert f"package {top / 'dynamic_io_asgi' / '__init__.py'}" in output
    assert " passed" in output and "failed" not in output
