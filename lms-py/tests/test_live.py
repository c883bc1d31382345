"""Live classes through the bindings, on SQLite and PostgreSQL, checked with
LiveKit's own Python SDK (livekit-api): room tokens verified by its
TokenVerifier, webhook deliveries signed by its AccessToken and accepted by
its WebhookReceiver before they reach us."""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import uuid
from typing import Any, Dict

import jwt
import pytest
from livekit import api

import lms

from conftest import PASSWORD, Database, World, build_world, unique_email

KEY = "APIpytestkey"
SECRET = "a livekit secret for the python suite"
URL = "wss://live.example.com"
TTL = 3 * 3600


async def open_live(database: Database) -> lms.Lms:
    config: Dict[str, Any] = dict(database.config())
    config.update(livekit_url=URL, livekit_api_key=KEY, livekit_api_secret=SECRET, livekit_token_ttl_secs=TTL)
    return await lms.Lms.open(database.url, **config)


def in_hours(hours: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)


async def outsider(school: lms.Lms) -> lms.Actor:
    session = await school.register(email=unique_email("eve"), password=PASSWORD, display_name="Eve")
    return await school.authenticate(session.access_token)


async def test_room_tokens_verify_with_livekits_sdk_and_grant_by_role(database: Database) -> None:
    school = await open_live(database)
    world: World = await build_world(school)
    await school.enroll(world.student, world.course.id)
    session = await school.create_live_session(world.instructor, world.course.id, title="Office hours", starts_at=in_hours(1))
    assert isinstance(session, lms.LiveSession)
    assert (session.status, session.room_name) == ("scheduled", f"lms-{session.id}")
    verifier = api.TokenVerifier(KEY, SECRET)

    host = await school.live_token(world.instructor, session.id)
    assert isinstance(host, lms.LiveToken)
    assert (host.url, host.room_name, host.role, host.identity) == (URL, session.room_name, "host", world.instructor.user_id)
    claims = verifier.verify(host.token)
    assert (claims.identity, claims.name) == (world.instructor.user_id, "Grace")
    video = claims.video
    assert video is not None
    assert (video.room_join, video.room, video.room_admin) == (True, session.room_name, True)
    assert (video.can_publish, video.can_subscribe, video.can_publish_data) == (True, True, True)

    viewer = await school.live_token(world.student, session.id)
    assert viewer.role == "viewer"
    claims = verifier.verify(viewer.token)
    assert (claims.identity, claims.name) == (world.student.user_id, "Ada")
    video = claims.video
    assert video is not None
    assert (video.room_join, video.room, video.room_admin) == (True, session.room_name, None)
    assert (video.can_publish, video.can_subscribe, video.can_publish_data) == (False, True, True)

    # PyJWT with the configured key: HS256, the issuer, the lifetime, and
    # canPublish false sent out loud (absent would mean true to LiveKit).
    raw = jwt.decode(viewer.token, SECRET, algorithms=["HS256"], issuer=KEY, options={"require": ["exp", "nbf", "sub"]})
    assert raw["exp"] - raw["nbf"] == TTL
    assert raw["video"]["canPublish"] is False
    assert "roomAdmin" not in raw["video"]
    assert jwt.get_unverified_header(viewer.token)["alg"] == "HS256"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(viewer.token, "not the secret of this installation at all", algorithms=["HS256"])
    with pytest.raises(Exception):
        api.TokenVerifier(KEY, "not the secret of this installation at all").verify(viewer.token)

    with pytest.raises(lms.Forbidden):
        await school.live_token(await outsider(school), session.id)
    with pytest.raises(lms.Unauthenticated):
        await school.live_token(lms.Actor.anonymous(), session.id)
    await school.cancel_live_session(world.instructor, session.id)
    with pytest.raises(lms.Conflict):
        await school.live_token(world.instructor, session.id)


def delivery(event: str, event_id: str, room: str, secret: str = SECRET, ttl_secs: int = 300) -> "tuple[str, str]":
    """A body and its Authorization token, made as LiveKit's server does."""
    body = json.dumps({"event": event, "id": event_id, "createdAt": "1700000000", "room": {"name": room, "sid": "RM_py"}})
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    token = api.AccessToken(KEY, secret).with_sha256(digest).with_ttl(datetime.timedelta(seconds=ttl_secs)).to_jwt()
    return body, token


async def test_webhooks_signed_by_livekits_sdk_move_the_class_once_and_forward(database: Database) -> None:
    school = await open_live(database)
    world = await build_world(school)
    session = await school.create_live_session(world.instructor, world.course.id, title="Live", starts_at=in_hours(0))
    room = session.room_name
    receiver = api.WebhookReceiver(api.TokenVerifier(KEY, SECRET))

    body, token = delivery("room_started", f"EV_{uuid.uuid4().hex}", room)
    # LiveKit's receiver accepts what the test sends, so the test checks a
    # real delivery, not one shaped to fit us.
    assert receiver.receive(body, token).event == "room_started"

    tampered = body.replace("RM_py", "RM_xx")
    _, wrong_secret = delivery("room_started", "EV_x", room, secret="not the secret of this installation at all")
    _, expired = delivery("room_started", "EV_x", room, ttl_secs=-3600)
    for auth, payload in [(token, tampered), (wrong_secret, body), (expired, body), (None, body)]:
        with pytest.raises(lms.Unauthenticated):
            await school.livekit_webhook(auth, payload.encode())
    assert (await school.live_session(world.instructor, session.id)).status == "scheduled"

    receipt = await school.livekit_webhook(token, body.encode())
    assert isinstance(receipt, lms.WebhookReceipt)
    assert receipt.outcome == "applied"
    assert (await school.livekit_webhook(token, body.encode())).outcome == "duplicate"
    live = await school.live_session(world.instructor, session.id)
    assert live.status == "live" and live.started_at is not None

    body, token = delivery("participant_joined", f"EV_{uuid.uuid4().hex}", room)
    assert (await school.livekit_webhook(token, body.encode())).outcome == "ignored"
    body, token = delivery("room_finished", f"EV_{uuid.uuid4().hex}", room)
    assert (await school.livekit_webhook(token, body.encode())).outcome == "applied"
    body, token = delivery("room_started", f"EV_{uuid.uuid4().hex}", room)
    assert (await school.livekit_webhook(token, body.encode())).outcome == "ignored"
    ended = await school.live_session(world.instructor, session.id)
    assert ended.status == "ended" and ended.ended_at is not None


async def test_scheduling_follows_the_rules_and_bad_input_names_the_field(database: Database) -> None:
    school = await open_live(database)
    world = await build_world(school)
    with pytest.raises(lms.InvalidInput) as invalid:
        await school.create_live_session(world.instructor, world.course.id, title="", starts_at=in_hours(-5))
    assert [f["field"] for f in invalid.value.fields] == ["title", "starts_at"]
    with pytest.raises(lms.InvalidInput) as unknown:
        await school.create_live_session(world.instructor, world.course.id, title="Class", starts_at=in_hours(1), status="live")
    assert unknown.value.fields[0]["field"] == "status"
    assert await school.live_sessions(world.instructor, world.course.id) == []

    with pytest.raises(lms.Forbidden):
        await school.create_live_session(world.student, world.course.id, title="Mine", starts_at=in_hours(1))
    session = await school.create_live_session(world.instructor, world.course.id, title="Class", starts_at=in_hours(1))
    with pytest.raises(lms.Forbidden):
        await school.live_sessions(world.student, world.course.id)
    await school.enroll(world.student, world.course.id)
    listed = await school.live_sessions(world.student, world.course.id)
    assert [s.id for s in listed] == [session.id]
    assert listed[0].to_dict() == session.to_dict()

    moved = await school.update_live_session(world.instructor, session.id, title="Class (moved)", starts_at=in_hours(2))
    assert moved.title == "Class (moved)"
    with pytest.raises(lms.Forbidden):
        await school.cancel_live_session(world.student, session.id)
    with pytest.raises(lms.InvalidInput) as bad_type:
        await school.create_ingress(world.instructor, session.id, "srt")
    assert bad_type.value.fields[0]["field"] == "input_type"
    cancelled = await school.cancel_live_session(world.instructor, session.id)
    assert cancelled.status == "cancelled"
    with pytest.raises(lms.Conflict):
        await school.update_live_session(world.instructor, session.id, title="Back")


async def test_without_livekit_tokens_and_webhooks_say_so(school: lms.Lms, world: World) -> None:
    session = await school.create_live_session(world.instructor, world.course.id, title="Class", starts_at=in_hours(1))
    with pytest.raises(lms.NotFound, match="LiveKit is not configured"):
        await school.live_token(world.instructor, session.id)
    body, token = delivery("room_started", "EV_1", session.room_name)
    with pytest.raises(lms.NotFound, match="LiveKit is not configured"):
        await school.livekit_webhook(token, body.encode())
    with pytest.raises(lms.InvalidInput) as half:
        await lms.Lms.open("sqlite::memory:", jwt_secret="x" * 32, livekit_api_key=KEY)
    assert {f["field"] for f in half.value.fields} == {"livekit_url", "livekit_api_secret"}
