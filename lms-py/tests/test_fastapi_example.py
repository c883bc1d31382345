"""The FastAPI example (examples/fastapi_app.py) through httpx, in process."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import AsyncIterator

import httpx
import pytest
import pytest_asyncio

import lms

from conftest import PASSWORD, Database, World, build_world, unique_email

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fastapi_app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fastapi_app", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fastapi_app"] = module
    spec.loader.exec_module(module)
    return module


example = load_example()


def client_for(school: lms.Lms) -> httpx.AsyncClient:
    app = example.create_app(school)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest_asyncio.fixture
async def client(school: lms.Lms) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(school) as c:
        yield c


def bearer(token: str) -> dict:
    return {"authorization": f"Bearer {token}"}


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert (body["status"], body["code"], body["type"]) == (status, code, f"urn:lms:problem:{code}")
    return body


async def test_a_learner_registers_finds_a_course_enrolls_and_progresses(
    school: lms.Lms, client: httpx.AsyncClient
) -> None:
    world = await build_world(school)
    email = unique_email("ada")
    registered = await client.post("/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Ada"})
    assert registered.status_code == 201, registered.text
    assert registered.json()["user"]["email"] == email
    login = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    token = login.json()["access_token"]

    catalog = await client.get("/courses", params={"q": "rust"})
    assert [item["id"] for item in catalog.json()["items"]] == [world.course.id]
    assert catalog.json() == (await school.catalog(q="rust")).to_dict()

    detail = await client.get(f"/courses/{world.course.slug}", headers=bearer(token))
    assert detail.status_code == 200
    assert detail.json()["id"] == world.course.id

    enrolled = await client.post(f"/courses/{world.course.id}/enroll", headers=bearer(token))
    assert enrolled.status_code == 200 and enrolled.json()["status"] == "active"

    done = await client.post(f"/lectures/{world.lectures[0].id}/progress", json={"completed": True}, headers=bearer(token))
    assert done.status_code == 200 and done.json()["completed_lectures"] == 1
    assert done.json()["lecture"] == {"lecture_id": world.lectures[0].id, "completed": True, "position_secs": 0}
    progress = await client.get(f"/courses/{world.course.id}/progress", headers=bearer(token))
    report = progress.json()
    assert report["lectures"][0] == done.json()["lecture"]
    assert {k: v for k, v in report.items() if k != "lectures"} == {
        k: v for k, v in done.json().items() if k != "lecture"
    }

    mine = await client.get("/me/enrollments", headers=bearer(token))
    assert [row["course"]["id"] for row in mine.json()["items"]] == [world.course.id]


async def test_errors_become_problem_json(school: lms.Lms, client: httpx.AsyncClient) -> None:
    world = await build_world(school)
    invalid = await client.post("/auth/register", json={"email": "nope", "password": "x", "display_name": "N"})
    body = assert_problem(invalid, 422, "invalid_input")
    assert {e["field"] for e in body["errors"]} >= {"email", "password"}

    anonymous = await client.post(f"/courses/{world.course.id}/enroll")
    assert_problem(anonymous, 401, "unauthenticated")
    bad_token = await client.get(f"/courses/{world.course.id}", headers=bearer("forged"))
    assert_problem(bad_token, 401, "unauthenticated")
    not_bearer = await client.get(f"/courses/{world.course.id}", headers={"authorization": "Basic eDp5"})
    assert_problem(not_bearer, 401, "unauthenticated")

    missing = await client.get("/courses/no-such-course")
    assert_problem(missing, 404, "not_found")

    wrong_password = await client.post("/auth/login", json={"email": unique_email("x"), "password": PASSWORD})
    assert_problem(wrong_password, 401, "unauthenticated")

    taken = await client.post(
        "/auth/register",
        json={"email": (await school.current_user(world.instructor)).email, "password": PASSWORD, "display_name": "G"},
    )
    assert_problem(taken, 409, "conflict")


async def test_logins_over_the_rate_get_429_with_retry_after(database: Database) -> None:
    school = await lms.Lms.open(database.url, **database.config(), auth_account_rate_per_minute=2)
    email = unique_email("eve")
    async with client_for(school) as client:
        for _ in range(2):
            attempt = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
            assert_problem(attempt, 401, "unauthenticated")
        limited = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
        assert_problem(limited, 429, "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1


async def test_many_concurrent_requests_through_the_app(school: lms.Lms, client: httpx.AsyncClient) -> None:
    import asyncio

    world = await build_world(school)
    await school.enroll(world.student, world.course.id)
    responses = await asyncio.gather(
        *(client.get(f"/courses/{world.course.id}", headers=bearer(world.student_token)) for _ in range(25)),
        *(client.get("/courses") for _ in range(25)),
    )
    assert {r.status_code for r in responses} == {200}
    assert len({r.text for r in responses[:25]}) == 1
