"""Fixtures for the hub tests: an isolated HF cache, a fake Hub on 127.0.0.1, a tiny savable model.

The fake Hub speaks the Hub's public HTTP protocol (no huggingface_hub code is patched or
imported here): the file endpoint and the two JSON API endpoints ``snapshot_download`` uses.

* ``HEAD``/``GET /{org}/{repo}/resolve/{revision}/{filename}``: 200 with ``X-Repo-Commit`` (the
  40-hex commit), ``ETag`` (git blob sha1 for small files; for LFS files the sha256, also in
  ``X-Linked-Etag``, with ``X-Linked-Size``), ``Content-Length``;
* ``GET /api/models/{org}/{repo}/revision/{revision}``: ``{"id", "sha", "siblings"}``;
* ``GET /api/models/{org}/{repo}/tree/{revision}``: the file list (``type``, ``path``, ``size``,
  ``oid``, and ``lfs: {oid, size, pointerSize}`` for LFS files);
* 404 with ``X-Error-Code: RepoNotFound`` / ``RevisionNotFound`` / ``EntryNotFound`` (the last
  with ``X-Repo-Commit``, which the client uses to cache the absence).

Faults for the network tests: :meth:`FakeHub.stall` and :meth:`FakeHub.truncate`.
"""
from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest
import torch
from torch import nn

import nuisance_zoo as nz
from nuisance_zoo import hub, registry
from nuisance_zoo.learned.pretrained import PretrainedMixin

LFS_FILES = {"model.safetensors"}
ARCH = "test-hub-scale"


class ScaleModel(PretrainedMixin, nz.NuisanceModel):
    """A learned brightness scale: G(x, δ) = clamp(x · exp(s · δ) + b), for the hub tests."""

    architecture = ARCH
    delta_dim = 1
    delta_names = ("log_gain",)
    prior = "normal"
    kind = "learned"

    def __init__(self, channels: int = 3, image_size: int = 8):
        super().__init__()
        self.channels = channels
        self.image_size = image_size
        self.scale = nn.Parameter(torch.tensor([0.5]))
        self.bias = nn.Parameter(torch.zeros(channels))
        # A non-contiguous buffer: save_pretrained must make tensors contiguous.
        self.register_buffer("mix", torch.arange(6, dtype=torch.float64).view(2, 3).t())
        self.register_buffer("steps", torch.zeros((), dtype=torch.int64))

    def config(self) -> dict:
        return {"channels": self.channels, "image_size": self.image_size}

    def decode(self, x, delta):
        gain = torch.exp(self.scale.to(x.dtype) * delta).view(-1, 1, 1, 1)
        return (x * gain + self.bias.to(x.dtype).view(1, -1, 1, 1)).clamp(0, 1)


@pytest.fixture
def scale_cls():
    """``ScaleModel`` registered under a test-only architecture name (removed afterwards)."""
    registry.register_architecture(ARCH)(ScaleModel)
    yield ScaleModel
    registry.unregister_architecture(ARCH)


@pytest.fixture
def trained(scale_cls):
    """A ScaleModel with non-trivial weights (random, seeded)."""
    g = torch.Generator().manual_seed(0)
    m = scale_cls()
    with torch.no_grad():
        m.scale.copy_(torch.randn(1, generator=g))
        m.bias.copy_(0.1 * torch.randn(3, generator=g))
        m.steps.fill_(1234)
    return m


@pytest.fixture
def model_folder(trained, tmp_path) -> Path:
    """``trained`` saved with save_pretrained into a tmp folder."""
    return trained.save_pretrained(
        tmp_path / "saved" / "test-scale",
        training={"domains": {"source": "day", "target": "night"}, "selection": "mean brightness < 0.3",
                  "iterations": 7, "dataset": "gtsrb"},
        card={"name": "test-scale", "metrics": {"accuracy": 0.91234, "worst-case accuracy": 0.5}},
    )


@pytest.fixture(autouse=True)
def isolated_hub(tmp_path, monkeypatch):
    """A fresh HF cache per test, no offline flag, no token, and an empty bundled-copy folder."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_home" / "hub"))
    monkeypatch.setenv("NUISANCE_ZOO_HUB_CARDS", str(tmp_path / "hub_cards"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "HF_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    hub._ANNOUNCED.clear()
    yield tmp_path
    hub._ANNOUNCED.clear()


def _commit(seed: str) -> str:
    return hashlib.sha1(seed.encode()).hexdigest()


class FakeHub:
    """Serves model repos from memory; records every request."""

    def __init__(self):
        self.repos: dict[str, dict] = {}
        self.requests: list[tuple[str, str, str]] = []  # (method, path, user agent)
        self.tampered: dict[tuple[str, str], bytes] = {}
        # (repo, file) -> ("stall" | "truncate", bytes of the body sent first)
        self.faults: dict[tuple[str, str], tuple[str, int]] = {}
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.stopped = False

    # -------------------------------------------------------------- content
    def add_repo(self, repo_id: str, folder: Path, refs: tuple[str, ...] = ("main",)) -> str:
        """Publish ``folder``'s files as one commit of ``repo_id``; returns the commit hash."""
        files = {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}
        commit = _commit(repo_id + "".join(sorted(files)) + str(len(self.repos)))
        repo = self.repos.setdefault(repo_id, {"refs": {}, "commits": {}})
        repo["commits"][commit] = files
        for ref in refs:
            repo["refs"][ref] = commit
        return commit

    def tamper(self, repo_id: str, filename: str, data: bytes) -> None:
        """Serve ``data`` instead of the real file (a compromised mirror or a corrupted transfer)."""
        self.tampered[(repo_id, filename)] = data

    def stall(self, repo_id: str, filename: str, after: int = 16) -> None:
        """Send the headers and ``after`` body bytes of ``filename``, then hang (until the server stops)."""
        self.faults[(repo_id, filename)] = ("stall", after)

    def truncate(self, repo_id: str, filename: str, after: int = 16) -> None:
        """Announce the full Content-Length, send ``after`` body bytes, then close the connection."""
        self.faults[(repo_id, filename)] = ("truncate", after)

    def heal(self) -> None:
        """Drop every fault and let stalled responses end (their clients then retry and succeed)."""
        self.faults.clear()
        self._release.set()

    def fault_for(self, path: str) -> tuple[str, int] | None:
        parts = unquote(path.split("?")[0]).strip("/").split("/")
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.faults.get(("/".join(parts[:2]), "/".join(parts[4:])))
        return None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -------------------------------------------------------------- serving
    def _api(self, parts: list[str]) -> tuple[int, dict, bytes]:
        """``/api/models/{org}/{repo}/(revision|tree)/{revision}``."""
        repo_id, what, revision = "/".join(parts[2:4]), parts[4], "/".join(parts[5:])
        repo = self.repos.get(repo_id)
        if repo is None:
            return 404, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}, b""
        commit = repo["refs"].get(revision, revision if revision in repo["commits"] else None)
        if commit is None:
            return 404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"}, b""
        files = repo["commits"][commit]
        if what == "revision":
            body = {"id": repo_id, "modelId": repo_id, "sha": commit, "private": False,
                    "siblings": [{"rfilename": name} for name in sorted(files)]}
        else:
            body = []
            for name in sorted(files):
                data = self.tampered.get((repo_id, name), files[name])
                entry = {"type": "file", "path": name, "size": len(data),
                         "oid": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()}
                if name in LFS_FILES:
                    entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 134}
                body.append(entry)
        return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()

    def respond(self, method: str, path: str) -> tuple[int, dict, bytes]:
        parts = unquote(path.split("?")[0]).strip("/").split("/")
        if len(parts) >= 6 and parts[:2] == ["api", "models"] and parts[4] in ("revision", "tree"):
            return self._api(parts)
        if len(parts) < 5 or parts[2] != "resolve":
            return 404, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}, b""
        repo_id, revision, filename = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        repo = self.repos.get(repo_id)
        if repo is None:
            return 404, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"}, b""
        commit = repo["refs"].get(revision, revision if revision in repo["commits"] else None)
        if commit is None:
            return 404, {"X-Error-Code": "RevisionNotFound", "X-Error-Message": "Invalid rev id"}, b""
        files = repo["commits"][commit]
        if filename not in files:
            return 404, {"X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found",
                         "X-Repo-Commit": commit}, b""
        data = self.tampered.get((repo_id, filename), files[filename])
        headers = {"X-Repo-Commit": commit, "Content-Type": "application/octet-stream"}
        if filename in LFS_FILES:
            sha = hashlib.sha256(data).hexdigest()
            headers.update({"ETag": f'"{sha}"', "X-Linked-Etag": f'"{sha}"', "X-Linked-Size": str(len(data))})
        else:
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            headers["ETag"] = f'"{blob}"'
        return 200, headers, data

    def start(self) -> "FakeHub":
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, send_body: bool) -> None:
                fake.requests.append((self.command, self.path, self.headers.get("User-Agent", "")))
                status, headers, body = fake.respond(self.command, self.path)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                fault = fake.fault_for(self.path) if status == 200 and send_body else None
                if fault is not None:
                    kind, after = fault
                    self.wfile.write(body[:after])
                    self.wfile.flush()
                    if kind == "stall":
                        fake._release.wait(60)  # hold the connection open, sending nothing
                    self.close_connection = True
                    return
                if send_body:
                    self.wfile.write(body)

            def do_HEAD(self):  # noqa: N802 (http.server's naming)
                self._answer(send_body=False)

            def do_GET(self):  # noqa: N802
                self._answer(send_body=True)

            def log_message(self, *args):  # keep test output clean
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Shut the server down; later requests get 'connection refused'."""
        if self._server is not None and not self.stopped:
            self.stopped = True
            self._release.set()
            self._server.shutdown()
            self._server.server_close()


@pytest.fixture
def fake_hub(monkeypatch):
    """A running FakeHub with HF_ENDPOINT pointing at it."""
    server = FakeHub().start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    yield server
    server.stop()
