"""Fixtures shared by the binding tests: a fresh store per test on SQLite
and on PostgreSQL, and helpers that build a small school.

PostgreSQL tests never skip: without LMS_TEST_DATABASE_URL they fail, as the
Rust suites do (scripts/test sets it up). Each test gets its own schema."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List

import pytest
import pytest_asyncio

import lms

SECRET = "a python test secret of at least thirty-two bytes"
PASSWORD = "analytical engine notes"


@dataclass
class Database:
    """Where one test's store lives."""

    backend: str
    url: str
    schema: "str | None"

    def config(self) -> Dict[str, Any]:
        """The keyword arguments of Lms.open for this store."""
        out: Dict[str, Any] = {"jwt_secret": SECRET}
        if self.schema is not None:
            out["database_schema"] = self.schema
        return out


def postgres_url() -> str:
    url = os.environ.get("LMS_TEST_DATABASE_URL")
    if not url:
        pytest.fail("LMS_TEST_DATABASE_URL is not set: run the tests with scripts/test or scripts/test-python")
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    if request.param == "sqlite":
        return Database("sqlite", f"sqlite://{tmp_path / 'lms.db'}", None)
    return Database("postgres", postgres_url(), f"py_{uuid.uuid4().hex[:16]}")


@pytest_asyncio.fixture
async def school(database: Database) -> AsyncIterator[lms.Lms]:
    yield await lms.Lms.open(database.url, **database.config())


def unique_email(name: str) -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


@dataclass
class World:
    """A published course with two lectures, its instructor and a student."""

    instructor: lms.Actor
    student: lms.Actor
    student_token: str
    course: lms.Course
    lectures: List[lms.Lecture]


async def build_world(school: lms.Lms) -> World:
    email = unique_email("grace")
    await school.create_user(lms.Actor.system(), email=email, password=PASSWORD, display_name="Grace", role="instructor")
    teacher_session = await school.login(email=email, password=PASSWORD)
    instructor = await school.authenticate(teacher_session.access_token)
    course = await school.create_course(
        instructor,
        title="Rust from scratch",
        subtitle="Ownership without tears",
        description="All of it.",
        level="beginner",
        language="en",
        tags=["rust", "systems"],
    )
    section = await school.create_section(instructor, course.id, title="Basics")
    lectures = [
        await school.create_lecture(instructor, section.id, title="Hello", kind="article", body="Hi", duration_secs=60),
        await school.create_lecture(instructor, section.id, title="Borrowing", kind="video", duration_secs=300),
    ]
    course = await school.publish_course(instructor, course.id)
    session = await school.register(email=unique_email("ada"), password=PASSWORD, display_name="Ada")
    student = await school.authenticate(session.access_token)
    return World(instructor, student, session.access_token, course, lectures)


@pytest_asyncio.fixture
async def world(school: lms.Lms) -> World:
    return await build_world(school)
