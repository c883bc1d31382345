"""Uploads, local files, Mux webhooks and playback through the bindings.

Mux is a loopback server that checks what it is sent; the webhook is signed
the way Mux documents it (HMAC-SHA256 over "t.body"), and the playback
tokens are decoded with PyJWT and the signing key's public half."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List
from urllib.parse import urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import lms

from conftest import PASSWORD, Database, build_world, unique_email

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
# Another RSA key's public half: tokens must not verify with it.
OTHER_PUBLIC_PEM = (
    rsa.generate_private_key(public_exponent=65537, key_size=2048)
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
)
WEBHOOK_SECRET = "python-mux-webhook-secret"


class FakeMux:
    """Answers POST /video/v1/assets and records every request."""

    def __init__(self) -> None:
        self.requests: List[Dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("content-length", "0"))
                fake.requests.append(
                    {
                        "path": self.path,
                        "authorization": self.headers.get("authorization"),
                        "body": json.loads(self.rfile.read(length)),
                    }
                )
                answer = json.dumps({"data": {"id": "mux-asset-py", "status": "preparing"}}).encode()
                self.send_response(201)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def mux() -> Iterator[FakeMux]:
    fake = FakeMux()
    yield fake
    fake.server.shutdown()


def link_parts(url: str) -> "tuple[str, str]":
    """The object key and query of a local-storage link."""
    parts = urlsplit(url)
    return parts.path.split("/media/", 1)[1], parts.query


def mux_signature(body: bytes, secret: str, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


async def test_a_local_upload_is_stored_attached_and_played(database: Database, tmp_path: Path) -> None:
    school = await lms.Lms.open(database.url, data_dir=str(tmp_path / "data"), **database.config())
    world = await build_world(school)
    video = world.lectures[1]
    await school.enroll(world.student, world.course.id)
    data = bytes(range(256)) * 4

    ticket = await school.create_upload(
        world.instructor,
        purpose="lecture_video",
        file_name="borrowing.mp4",
        content_type="video/mp4",
        size=len(data),
        lecture_id=video.id,
    )
    assert isinstance(ticket, lms.UploadTicket)
    assert ticket.method == "PUT"
    assert dict(ticket.headers) == {"content-length": str(len(data)), "content-type": "video/mp4"}
    key, query = link_parts(ticket.url)
    with pytest.raises(lms.InvalidInput) as early:
        await school.complete_upload(world.instructor, ticket.upload_id)
    assert [f["field"] for f in early.value.fields] == ["upload"]
    with pytest.raises(lms.Forbidden):
        await school.put_local_file(key, query, "video/webm", data)
    with pytest.raises(lms.Forbidden):
        await school.put_local_file(key, query.replace("sig=", "sig=0"), "video/mp4", data)
    assert await school.put_local_file(key, query, "video/mp4", data) == len(data)

    asset = await school.complete_upload(world.instructor, ticket.upload_id)
    assert isinstance(asset, lms.Asset)
    assert (asset.status, asset.size, asset.lecture_id) == ("stored", len(data), video.id)
    assert (await school.complete_upload(world.instructor, ticket.upload_id)).to_dict() == asset.to_dict()
    with pytest.raises(lms.NotFound):
        await school.upload(world.student, ticket.upload_id)

    playback = await school.playback(world.student, video.id)
    assert isinstance(playback, lms.Playback)
    assert (playback.kind, playback.content_type) == ("file", "video/mp4")
    content_type, body = await school.get_local_file(*link_parts(playback.url))
    assert (content_type, body) == ("video/mp4", data)
    assert await school.lecture_attachments(world.student, video.id) == []


async def test_bad_upload_requests_name_the_field(database: Database, tmp_path: Path) -> None:
    school = await lms.Lms.open(database.url, data_dir=str(tmp_path / "data"), **database.config())
    world = await build_world(school)
    cases = [
        ({"purpose": "poster", "content_type": "video/mp4", "size": 1}, "purpose"),
        ({"purpose": "lecture_video", "content_type": "text/html", "size": 1}, "content_type"),
        ({"purpose": "lecture_video", "content_type": "video/mp4", "size": 6 * 1024**3}, "size"),
    ]
    for fields, field in cases:
        with pytest.raises(lms.InvalidInput) as refused:
            await school.create_upload(world.instructor, file_name="x.mp4", lecture_id=world.lectures[1].id, **fields)
        assert [f["field"] for f in refused.value.fields] == [field]
    with pytest.raises(lms.Forbidden):
        await school.create_upload(
            world.student,
            purpose="lecture_video",
            file_name="x.mp4",
            content_type="video/mp4",
            size=1,
            lecture_id=world.lectures[1].id,
        )


async def test_mux_playback_tokens_verify_with_pyjwt(database: Database, tmp_path: Path, mux: FakeMux) -> None:
    private_pem = (FIXTURES / "mux-signing-key.pem").read_bytes()
    public_pem = (FIXTURES / "mux-signing-key.pub.pem").read_bytes()
    school = await lms.Lms.open(
        database.url,
        data_dir=str(tmp_path / "data"),
        mux_token_id="py-token-id",
        mux_token_secret="py-token-secret",
        mux_signing_key_id="py-signing-key",
        mux_signing_private_key=base64.b64encode(private_pem).decode(),
        mux_webhook_secret=WEBHOOK_SECRET,
        mux_api_url=mux.url,
        **database.config(),
    )
    world = await build_world(school)
    video = world.lectures[1]
    await school.enroll(world.student, world.course.id)
    ticket = await school.create_upload(
        world.instructor, purpose="lecture_video", file_name="v.webm", content_type="video/webm", size=4, lecture_id=video.id
    )
    await school.put_local_file(*link_parts(ticket.url), "video/webm", b"webm")
    asset = await school.complete_upload(world.instructor, ticket.upload_id)
    assert (asset.mux_asset_id, asset.video_status) == ("mux-asset-py", "processing")
    [sent] = mux.requests
    assert sent["path"] == "/video/v1/assets"
    assert sent["authorization"] == "Basic " + base64.b64encode(b"py-token-id:py-token-secret").decode()
    assert sent["body"]["playback_policies"] == ["signed"]
    assert sent["body"]["passthrough"] == asset.id

    event = {
        "id": f"evt-{asset.id}",
        "type": "video.asset.ready",
        "data": {
            "id": "mux-asset-py",
            "passthrough": asset.id,
            "duration": 299.5,
            "playback_ids": [{"id": "pb-python", "policy": "signed"}],
        },
    }
    body = json.dumps(event).encode()
    now = int(time.time())
    with pytest.raises(lms.Unauthenticated):
        await school.mux_webhook(body, mux_signature(body, "wrong-secret", now))
    with pytest.raises(lms.Unauthenticated):
        await school.mux_webhook(body, mux_signature(body, WEBHOOK_SECRET, now - 600))
    with pytest.raises(lms.Unauthenticated):
        await school.mux_webhook(body + b" ", mux_signature(body, WEBHOOK_SECRET, now))
    signature = mux_signature(body, WEBHOOK_SECRET, now)
    assert (await school.mux_webhook(body, signature)).outcome == "applied"
    assert (await school.mux_webhook(body, signature)).outcome == "duplicate"

    plain = await school.playback(world.student, video.id)
    assert (plain.thumbnail_url, plain.storyboard_url) == (None, None)
    playback = await school.playback(world.student, video.id, thumbnail=True, storyboard=True)
    assert playback.kind == "mux"
    assert playback.url == f"https://stream.mux.com/pb-python.m3u8?token={playback.token}"
    assert playback.thumbnail_url == (
        f"https://image.mux.com/pb-python/thumbnail.jpg?token={playback.thumbnail_token}"
    )
    assert playback.storyboard_url == (
        f"https://image.mux.com/pb-python/storyboard.vtt?token={playback.storyboard_token}"
    )
    for token, audience in [
        (playback.token, "v"),
        (playback.thumbnail_token, "t"),
        (playback.storyboard_token, "s"),
    ]:
        header = jwt.get_unverified_header(token)
        assert (header["alg"], header["kid"]) == ("RS256", "py-signing-key")
        claims = jwt.decode(token, public_pem, algorithms=["RS256"], audience=audience)
        assert claims["sub"] == "pb-python"
        assert claims["kid"] == "py-signing-key"
        assert claims["exp"] > now
    # Someone else's key does not verify them.
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(playback.token, OTHER_PUBLIC_PEM, algorithms=["RS256"], audience="v")
    outsider = await school.register(email=unique_email("outsider"), password=PASSWORD, display_name="Out")
    with pytest.raises(lms.Forbidden):
        await school.playback(await school.authenticate(outsider.access_token), video.id)
