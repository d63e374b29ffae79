"""Where artifacts live (`s3://bucket/prefix`, a local folder, or a SageMaker `model.tar.gz`) and
how they reach a local folder for inference, evaluation and reports."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tempfile
from pathlib import Path

from functions.core.base.storage import BlobStore


def split_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} names no bucket")
    return bucket, key


def join_uri(base: str, name: str) -> str:
    """`base` (S3 prefix or local folder) + `name`."""
    if base.startswith("s3://"):
        return base.rstrip("/") + "/" + name
    return str(Path(base) / name)


def folder_of(uri: str) -> str:
    """The folder an artifact lives in: the URI itself for a folder, the parent of a .tar.gz file."""
    if uri.endswith(".tar.gz"):
        return uri.rsplit("/", 1)[0]
    return uri


class Artifacts:
    """Reads and writes artifacts by URI; S3 downloads are cached under `cache_dir` (Lambda: /tmp)."""

    def __init__(self, store: BlobStore | None, cache_dir: Path | None = None) -> None:
        self.store = store
        self.cache_dir = cache_dir or Path(tempfile.gettempdir()) / "skillforge-artifacts"

    def _s3(self) -> BlobStore:
        if self.store is None:
            raise ValueError("an s3:// artifact needs an S3 client (none configured)")
        return self.store

    def read_bytes(self, uri: str) -> bytes:
        if uri.startswith("s3://"):
            bucket, key = split_s3_uri(uri)
            return self._s3().get(bucket, key).data
        return Path(uri).read_bytes()

    def write_bytes(self, uri: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        if uri.startswith("s3://"):
            bucket, key = split_s3_uri(uri)
            self._s3().put(bucket, key, data, content_type=content_type)
            return
        path = Path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    def exists(self, uri: str) -> bool:
        if uri.startswith("s3://"):
            bucket, key = split_s3_uri(uri)
            return self._s3().exists(bucket, key)
        return Path(uri).exists()

    def local_folder(self, uri: str) -> Path:
        """A local folder holding the artifact: the folder itself, or a cached download/extraction."""
        if not uri.startswith("s3://"):
            path = Path(uri)
            if path.is_dir():
                return path
            if path.is_file() and path.name.endswith(".tar.gz"):
                return self._extract(path.read_bytes(), uri)
            raise FileNotFoundError(f"artifact {uri} is not a folder or a .tar.gz file")
        if uri.endswith(".tar.gz"):
            return self._extract(self.read_bytes(uri), uri)
        bucket, prefix = split_s3_uri(uri)
        prefix = prefix.rstrip("/") + "/"
        target = self.cache_dir / hashlib.sha256(uri.encode()).hexdigest()[:16]
        listing = self._listing(bucket, prefix)
        if not listing:
            raise FileNotFoundError(f"no objects under {uri}")
        # a cached copy is reused only while every object still has the same ETag
        seen_file = target / ".etags.json"
        seen: dict[str, str] = json.loads(seen_file.read_text()) if seen_file.is_file() else {}
        for key, etag in listing.items():
            path = target / key[len(prefix) :]
            if not path.is_file() or seen.get(key) != etag:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self._s3().get(bucket, key).data)
                seen[key] = etag
        seen_file.write_text(json.dumps(seen))
        return target

    def _listing(self, bucket: str, prefix: str) -> dict[str, str]:
        found: dict[str, str] = {}
        paginator = self._s3().s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
            found.update({obj["Key"]: str(obj.get("ETag", "")) for obj in page.get("Contents", [])})
        return found

    def upload_folder(self, folder: Path, uri: str) -> list[str]:
        """Copy every file of `folder` under `uri` (S3 prefix or local folder); returns the URIs written."""
        written: list[str] = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            target = join_uri(uri, path.relative_to(folder).as_posix())
            self.write_bytes(target, path.read_bytes())
            written.append(target)
        return written

    def _extract(self, data: bytes, uri: str) -> Path:
        target = self.cache_dir / hashlib.sha256(uri.encode() + data).hexdigest()[:16]  # content-keyed
        if target.is_dir():
            return target
        target.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            archive.extractall(target, filter="data")
        return target
