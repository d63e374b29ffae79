"""Where an upload's group (advert) id, source and variant hint come from.

Key convention in the raw bucket: `<variant hint>/<group id>/<file>`; `<variant hint>/<file>` (each
photo its own group); or `<file>` (no hint). S3 object metadata `group-id`, `source` and
`variant-hint` (x-amz-meta-*) override what the key says.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel


class UploadContext(BaseModel):
    image_id: str
    group_id: str
    source: str
    variant_hint: str | None


def image_id_for(key: str, revision: str | None = None) -> str:
    """Deterministic id of one upload: duplicate events for one version of a key map to one record,
    and a new upload to the same key (new S3 version id or ETag) to a new one."""
    identity = key if revision is None else f"{key}\n{revision}"
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()[:24]


def upload_context(
    key: str, metadata: dict[str, str] | None = None, revision: str | None = None
) -> UploadContext:
    metadata = {k.lower(): v for k, v in (metadata or {}).items()}
    image_id = image_id_for(key, revision)
    parts = [part for part in key.split("/") if part]
    hint: str | None = None
    group: str | None = None
    if len(parts) >= 3:
        hint, group = parts[0], parts[1]
    elif len(parts) == 2:
        hint = parts[0]
    return UploadContext(
        image_id=image_id,
        group_id=metadata.get("group-id") or group or f"image-{image_id}",
        source=metadata.get("source") or "upload",
        variant_hint=metadata.get("variant-hint") or hint,
    )
