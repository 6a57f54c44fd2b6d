"""Where an uploaded or referenced file comes from, checked before anything reads it.

A client hands the server a file in one of two ways: as a multipart upload, or as a
URL. ``file:`` URLs are read only inside the directories the server was started with
(``--file-root``), after resolving ``..``, percent-encoding and symbolic links; a
path outside them is refused with 403, whatever its spelling. ``http(s):`` URLs are
fetched only when the server was started with ``--allow-remote-urls``; every other
scheme is refused. Either way the bytes end up in a private temporary directory under
a sanitised name, never at a path the client chose.

>>> safe_filename("../../etc/passwd")
'passwd'
>>> safe_filename("cmt.owl")
'cmt.owl'
>>> safe_filename("..")
'upload'
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from urllib.parse import unquote, urlsplit

from kgalign.errors import UsageError
from kgalign.server.config import ServerConfig
from kgalign.server.errors import Forbidden, NotFound, PayloadTooLarge

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str | None, default: str = "upload") -> str:
    """The last path component of a client-given name, reduced to safe characters."""
    if not name:
        return default
    base = PureWindowsPath(PurePosixPath(name.replace("\x00", "")).name).name
    base = _SAFE.sub("_", base).strip("._") if base not in (".", "..") else ""
    return base[:100] or default


@dataclass(frozen=True)
class Fetched:
    path: Path  # where the bytes now are (inside the request's temp dir)
    source: str  # what the client gave (URL or upload name), for messages
    filename: str


def resolve_file_url(url: str, config: ServerConfig) -> Path:
    """The local file a ``file:`` URL names, if it lies inside one of the allowed roots."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "file":
        raise UsageError(f"not a file: URL: {url!r}")
    if parts.netloc not in ("", "localhost"):
        raise Forbidden(f"file: URLs must name a local file (no host), not {parts.netloc!r}")
    if parts.query or parts.fragment:
        raise UsageError("a file: URL takes no query or fragment")
    if not config.file_roots:
        raise Forbidden("this server reads no file: URLs; start it with --file-root DIR to allow a directory")
    raw = unquote(parts.path)
    if "\x00" in raw or "\\" in raw:
        raise Forbidden(f"refused file path {raw!r}")
    p = Path(raw)
    candidate = p if p.is_absolute() else config.file_roots[0] / p
    try:
        real = candidate.resolve(strict=True)
    except (FileNotFoundError, NotADirectoryError):
        real = None
    except (OSError, RuntimeError) as e:  # symlink loops, permissions
        raise Forbidden(f"cannot read {raw!r}: {e}") from None
    # Containment is checked on the resolved path (after '..' and symlinks); a path
    # outside every root is refused the same whether or not it exists.
    check = real if real is not None else Path(os.path.normpath(candidate))
    if not any(_inside(check, root) for root in config.file_roots):
        raise Forbidden(f"file {raw!r} is outside the directories this server may read")
    if real is None:
        raise NotFound(f"no such file: {raw!r}")
    if not real.is_file():
        raise Forbidden(f"{raw!r} is not a regular file")
    return real


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
        return True
    except ValueError:
        return False


def copy_file_url(url: str, config: ServerConfig, dest_dir: Path, default_name: str) -> Fetched:
    real = resolve_file_url(url, config)
    if real.stat().st_size > config.max_upload:
        raise PayloadTooLarge(config.max_upload, "file")
    name = safe_filename(real.name, default_name)
    dest = dest_dir / name
    shutil.copyfile(real, dest)
    return Fetched(dest, url, name)


def fetch_remote(url: str, config: ServerConfig, dest_dir: Path, default_name: str) -> Fetched:
    """Download an http(s) URL (only when allowed), up to the upload limit."""
    if not config.allow_remote_urls:
        raise Forbidden("this server fetches no remote URLs; start it with --allow-remote-urls to allow http(s)")
    import httpx

    parts = urlsplit(url)
    name = safe_filename(PurePosixPath(unquote(parts.path)).name, default_name)
    dest = dest_dir / name
    size = 0
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=30.0) as r:
            if r.status_code != 200:
                raise UsageError(f"fetching {url} answered HTTP {r.status_code}")
            with open(dest, "wb") as f:
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > config.max_upload:
                        raise PayloadTooLarge(config.max_upload, "file")
                    f.write(chunk)
    except httpx.HTTPError as e:
        raise UsageError(f"cannot fetch {url}: {e}") from None
    return Fetched(dest, url, name)


def fetch_url(url: str, config: ServerConfig, dest_dir: Path, default_name: str) -> Fetched:
    """A ``file:`` or (when allowed) ``http(s):`` URL copied into ``dest_dir``."""
    url = url.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        return copy_file_url(url, config, dest_dir, default_name)
    if scheme in ("http", "https"):
        return fetch_remote(url, config, dest_dir, default_name)
    if not scheme or len(scheme) == 1:  # a bare path (or a Windows drive letter)
        raise UsageError(f"give a file: URL or upload the file, not a bare path ({url!r})")
    raise Forbidden(f"URL scheme {scheme!r} is not allowed; use file: (or http(s): when the server allows it)")
