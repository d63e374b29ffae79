"""`skillforge up` as a user runs it: a separate process, used by boto3 from this one (an outside
client); an upload to the raw bucket is catalogued within 10 s; the stack's schedules run by
themselves (the labelling hand-off sends the new crops to a local labelling job); Ctrl-C saves the
state, and the next `up` starts with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.core.base.records import Upload
from functions.core.detection.upload_keys import image_id_for

REPO = Path(__file__).resolve().parents[2]
PHOTO = REPO / "samples" / "images" / "road-scenes" / "test3.jpg"

pytestmark = pytest.mark.slow


@contextmanager
def stack_up(state: Path, log: Path, *options: str) -> Iterator[dict[str, Any]]:
    """`skillforge up --state STATE [OPTIONS]` in its own process; yields what it printed on stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SKILLFORGE_AWS", "AWS_"))}
    with log.open("a", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.cli", "up", "--state", str(state), *options],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(process.stdout.readline()))  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=120)
        try:
            assert first and first[0].strip(), f"up printed nothing; stderr:\n{log.read_text()}"
            yield {"info": json.loads(first[0]), "process": process}
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
            stopped(process, log)


def stopped(process: subprocess.Popen[str], log: Path, timeout_s: float = 120) -> int:
    """The exit status of `up` after Ctrl-C; if it does not stop in time, its stderr says where it was."""
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
        stderr = log.read_text()
        raise AssertionError(f"up did not stop within {timeout_s} s of Ctrl-C; stderr:\n{stderr}") from None


def outside_client(service: str, info: dict[str, Any]) -> Any:
    return boto3.client(
        service,
        endpoint_url=info["endpoint"],
        region_name=info["region"],
        aws_access_key_id="any",
        aws_secret_access_key="any",
    )


def upload_and_wait(info: dict[str, Any], key: str, log: Path) -> str:
    """Upload PHOTO under `key` with an outside client; its image id once catalogued (within 10 s)."""
    put = outside_client("s3", info).put_object(
        Bucket=info["buckets"]["raw"], Key=key, Body=PHOTO.read_bytes()
    )
    uploaded = time.monotonic()
    upload = Upload(bucket=info["buckets"]["raw"], key=key, etag=put["ETag"], version_id=put.get("VersionId"))
    image_id = image_id_for(key, upload.revision)
    dynamodb = outside_client("dynamodb", info)
    while time.monotonic() - uploaded < 10:
        if dynamodb.get_item(TableName=info["table"], Key={"pk": {"S": f"image#{image_id}"}}).get("Item"):
            return image_id
        time.sleep(0.2)
    raise AssertionError(f"not catalogued within 10 s; stderr:\n{log.read_text()}")


def crops_of(info: dict[str, Any], image_id: str) -> list[dict[str, Any]]:
    pages = outside_client("dynamodb", info).get_paginator("scan").paginate(TableName=info["table"])
    return [
        item
        for page in pages
        for item in page["Items"]
        if item["pk"]["S"].startswith("crop#") and item.get("image_id", {}).get("S") == image_id
    ]


def test_the_labelling_handoff_runs_on_its_schedule(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "up.log"
    # GIVEN `skillforge up` with the stack's schedules every 2 s
    with stack_up(state, log, "--schedule-every", "2s") as running:
        info = running["info"]
        assert info["schedules"] == {"labelling-handoff": 2.0, "drift-monitor": 2.0}
        # WHEN a photo is uploaded and catalogued, and nobody runs a command
        image_id = upload_and_wait(info, "road-scenes/scheduled/test3.jpg", log)
        assert crops_of(info, image_id), "the photo should have cars"
        # THEN within 15 s the scheduled hand-off has sent every crop of it to a local labelling job
        deadline = time.monotonic() + 15
        crops = crops_of(info, image_id)
        while time.monotonic() < deadline and any(c["status"]["S"] != "labelling" for c in crops):
            time.sleep(0.5)
            crops = crops_of(info, image_id)
        assert {c["status"]["S"] for c in crops} == {"labelling"}, log.read_text()
        job = crops[0]["labelling_job"]["S"]
        manifest = outside_client("s3", info).get_object(
            Bucket=info["buckets"]["artifacts"], Key=f"labelling/jobs/{job}/input.manifest"
        )
        sent = {json.loads(line)["crop-id"] for line in manifest["Body"].read().decode().splitlines()}
        assert {c["crop_id"]["S"] for c in crops} <= sent
        # AND the drift monitor ran on its schedule too; both are logged on stderr
        running["process"].send_signal(signal.SIGINT)
        assert stopped(running["process"], log) == 0
    logged = log.read_text()
    assert "schedule labelling-handoff: ran" in logged and "schedule drift-monitor: ran" in logged, logged


def test_an_upload_from_another_process_is_catalogued_and_kept(tmp_path: Path) -> None:
    state, log = tmp_path / "state", tmp_path / "up.log"
    key = "road-scenes/outside/test3.jpg"
    # GIVEN `skillforge up` running in another process
    with stack_up(state, log) as running:
        info = running["info"]
        assert set(info["buckets"]) == {"raw", "crops", "quarantine", "artifacts"}
        assert info["dashboard"].endswith("dashboard.html") and info["token"]
        # WHEN an outside boto3 client uploads a photo to the raw bucket
        put = outside_client("s3", info).put_object(
            Bucket=info["buckets"]["raw"], Key=key, Body=PHOTO.read_bytes()
        )
        uploaded = time.monotonic()
        # (the record's id is the key's and this upload's version: a re-upload is a new record)
        upload = Upload(
            bucket=info["buckets"]["raw"], key=key, etag=put["ETag"], version_id=put.get("VersionId")
        )
        image_id = image_id_for(key, upload.revision)
        pk = {"pk": {"S": f"image#{image_id}"}}
        # THEN its record appears in the catalog within 10 s, with its cars cropped
        dynamodb = outside_client("dynamodb", info)
        item: dict[str, Any] = {}
        while time.monotonic() - uploaded < 10 and not item:
            item = dynamodb.get_item(TableName=info["table"], Key=pk).get("Item", {})
            time.sleep(0.2)
        assert item, f"not catalogued within 10 s; stderr:\n{log.read_text()}"
        assert item["status"]["S"] == "cars_found"
        # AND `skillforge records` (another process, with the environment `up` printed) shows it
        records = subprocess.run(
            [sys.executable, "-m", "scripts.cli", "records", "--image", image_id],
            cwd=REPO,
            env={**os.environ, **info["env"], "AWS_ACCESS_KEY_ID": "any", "AWS_SECRET_ACCESS_KEY": "any"},
            capture_output=True,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=120,
            check=False,
        )
        assert records.returncode == 0, records.stderr
        shown = [json.loads(line) for line in records.stdout.splitlines()]
        assert [row["image"]["image_id"] for row in shown] == [image_id], shown
        # AND Ctrl-C stops it cleanly
        running["process"].send_signal(signal.SIGINT)
        assert stopped(running["process"], log) == 0
    assert (state / "stack" / "catalog.jsonl").is_file()

    # WHEN it is started again
    with stack_up(state, log) as again:
        dynamodb = outside_client("dynamodb", again["info"])
        # THEN the record is still there, and the photo too
        assert (
            dynamodb.get_item(TableName=again["info"]["table"], Key=pk)["Item"]["status"]["S"] == "cars_found"
        )
        body = outside_client("s3", again["info"]).get_object(Bucket=again["info"]["buckets"]["raw"], Key=key)
        assert body["Body"].read() == PHOTO.read_bytes()
