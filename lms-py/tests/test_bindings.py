"""The bindings driven directly, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time

import pytest

import lms

from conftest import PASSWORD, SECRET, Database, World, unique_email


async def test_register_login_and_authenticate_give_the_user_and_their_actor(school: lms.Lms) -> None:
    email = unique_email("ada")
    session = await school.register(email=email.upper(), password=PASSWORD, display_name="Ada")
    assert isinstance(session, lms.AuthSession)
    assert session.user.email == email
    assert session.token_type == "Bearer"
    assert "***" in repr(session) and session.access_token not in repr(session)

    again = await school.login(email=email, password=PASSWORD)
    actor = await school.authenticate(again.access_token)
    assert (actor.kind, actor.user_id, actor.role, actor.is_admin) == ("user", session.user.id, "student", False)

    me = await school.current_user(actor)
    assert isinstance(me, lms.User)
    assert me == session.user
    assert me.to_dict() == session.to_dict()["user"]


async def test_a_course_goes_from_draft_to_a_learners_progress(school: lms.Lms, world: World) -> None:
    page = await school.catalog(q="rust")
    assert isinstance(page, lms.CatalogPage)
    assert [item.id for item in page.items] == [world.course.id]
    assert page.items[0].lecture_count == 2

    detail = await school.course_detail(world.student, world.course.slug)
    assert isinstance(detail, lms.CourseDetail)
    assert [lecture["id"] for lecture in detail.to_dict()["sections"][0]["lectures"]] == [
        lecture.id for lecture in world.lectures
    ]

    enrollment = await school.enroll(world.student, world.course.id)
    assert isinstance(enrollment, lms.Enrollment)
    assert (enrollment.status, enrollment.revoked_by) == ("active", None)

    progress = await school.update_progress(world.student, world.lectures[0].id, completed=True)
    assert isinstance(progress, lms.UpdatedProgress)
    assert (progress.completed_lectures, progress.total_lectures, progress.percent) == (1, 2, 50)
    assert progress.lecture.to_dict() == {"lecture_id": world.lectures[0].id, "completed": True, "position_secs": 0}
    assert progress.next_lecture_id == world.lectures[1].id

    await school.update_progress(world.student, world.lectures[1].id, completed=True)
    done = await school.course_progress(world.student, world.course.id)
    assert done.percent == 100
    assert done.completed_at is not None

    mine = await school.my_enrollments(world.student)
    assert [type(m) for m in mine] == [lms.LearnerEnrollment]
    assert mine[0].course.id == world.course.id
    assert mine[0].progress.percent == 100


async def test_each_error_kind_raises_its_class_with_code_message_and_fields(school: lms.Lms, world: World) -> None:
    with pytest.raises(lms.InvalidInput) as invalid:
        await school.register(email="not an address", password="short", display_name="")
    assert invalid.value.code == "invalid_input"
    assert {f["field"] for f in invalid.value.fields} >= {"email", "password"}
    assert all(set(f) == {"field", "message"} for f in invalid.value.fields)

    with pytest.raises(lms.Unauthenticated) as unauthenticated:
        await school.authenticate("not.a.token")
    assert unauthenticated.value.code == "unauthenticated"

    with pytest.raises(lms.Forbidden) as forbidden:
        await school.create_course(world.student, title="Mine")
    assert forbidden.value.code == "forbidden"

    with pytest.raises(lms.NotFound) as not_found:
        await school.course_detail(world.student, "no-such-course")
    assert not_found.value.code == "not_found"

    taken = (await school.current_user(world.instructor)).email
    with pytest.raises(lms.Conflict) as conflict:
        await school.create_user(lms.Actor.system(), email=taken, password=PASSWORD, display_name="Again")
    assert conflict.value.code == "conflict"

    for err in (invalid, unauthenticated, forbidden, not_found, conflict):
        assert isinstance(err.value, lms.LmsError)
        assert err.value.message and str(err.value) == err.value.message


async def test_unknown_and_missing_keywords_are_invalid_input_naming_them(school: lms.Lms, world: World) -> None:
    with pytest.raises(lms.InvalidInput) as unknown:
        await school.create_course(world.instructor, title="Fine", owner_role="admin")
    assert unknown.value.fields == [{"field": "owner_role", "message": "is not a known field"}]

    with pytest.raises(lms.InvalidInput) as missing:
        await school.create_course(world.instructor, subtitle="no title")
    assert missing.value.fields == [{"field": "title", "message": "is required"}]

    with pytest.raises(lms.InvalidInput) as bad_id:
        await school.enroll(world.student, "not-a-uuid")
    assert bad_id.value.fields[0]["field"] == "course_id"


async def test_a_list_in_place_of_a_nested_record_is_refused_and_changes_nothing(
    school: lms.Lms, world: World
) -> None:
    # A list would otherwise fill the record's fields in order: a price of 100 USD.
    course = await school.create_course(world.instructor, title="Kept")
    with pytest.raises(lms.InvalidInput) as listed:
        await school.update_course(world.instructor, course.id, price=[100, "USD"])
    assert listed.value.fields[0]["field"] == "price"
    assert listed.value.fields[0]["message"] == "must be a JSON object, not an array"
    kept = await school.course_detail(world.instructor, course.id)
    assert kept["price"] == {"kind": "free"}


async def test_throttling_refuses_with_retry_after_once_an_account_is_over_its_rate(database: Database) -> None:
    school = await lms.Lms.open(database.url, **database.config(), auth_account_rate_per_minute=2)
    email = unique_email("eve")
    await school.throttle("login", "203.0.113.7", email)
    await school.throttle("login", "203.0.113.8", email)
    with pytest.raises(lms.RateLimited) as limited:
        await school.throttle("login", "203.0.113.9", email)
    assert limited.value.code == "rate_limited"
    assert limited.value.retry_after is not None and limited.value.retry_after >= 1
    # Another account is not affected.
    await school.throttle("login", "203.0.113.9", unique_email("bob"))
    with pytest.raises(lms.InvalidInput):
        await school.throttle("shout", None, None)
    with pytest.raises(lms.InvalidInput):
        await school.throttle("login", "not an address", None)


async def test_open_refuses_bad_configuration_with_invalid_input(database: Database) -> None:
    with pytest.raises(lms.InvalidInput) as short:
        await lms.Lms.open(database.url, jwt_secret="too short")
    assert short.value.fields[0]["field"] == "jwt_secret"
    with pytest.raises(lms.InvalidInput) as unknown:
        await lms.Lms.open(database.url, jwt_secret=SECRET, colour="blue")
    assert unknown.value.fields[0]["field"] == "colour"


async def test_many_tasks_share_one_handle_concurrently(school: lms.Lms, world: World) -> None:
    await school.enroll(world.student, world.course.id)
    reads = [school.catalog() for _ in range(30)]
    details = [school.course_detail(world.student, world.course.id) for _ in range(30)]
    writes = [school.update_progress(world.student, lecture.id, completed=True) for lecture in world.lectures * 5]
    results = await asyncio.gather(*reads, *details, *writes)
    assert all(page == results[0] for page in results[:30])
    assert all(detail == results[30] for detail in results[30:60])
    final = await school.course_progress(world.student, world.course.id)
    assert final.completed_lectures == 2
    # Many learners enrolling at once each get their own row.
    sessions = await asyncio.gather(
        *(school.register(email=unique_email(f"l{i}"), password=PASSWORD, display_name=f"L{i}") for i in range(6))
    )
    actors = await asyncio.gather(*(school.authenticate(s.access_token) for s in sessions))
    enrollments = await asyncio.gather(*(school.enroll(a, world.course.id) for a in actors))
    assert len({e.id for e in enrollments}) == 6
    course = await school.course_detail(world.instructor, world.course.id)
    assert course.enrollment_count == 7


async def test_password_hashing_does_not_block_the_event_loop(school: lms.Lms) -> None:
    email = unique_email("kay")
    await school.register(email=email, password=PASSWORD, display_name="Kay")
    ticks = 0
    stop = False

    async def ticker() -> None:
        nonlocal ticks
        while not stop:
            await asyncio.sleep(0.002)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    await asyncio.gather(*(school.login(email=email, password=PASSWORD) for _ in range(4)))
    elapsed = time.monotonic() - started
    stop = True
    await task
    # Four Argon2id hashes take tens of milliseconds at least; a loop that
    # kept running ticked all along (a blocked one would tick once).
    assert elapsed > 0.02
    assert ticks >= 5, (ticks, elapsed)


def test_actors_without_a_token() -> None:
    anonymous, system = lms.Actor.anonymous(), lms.Actor.system()
    assert (anonymous.kind, anonymous.user_id, anonymous.role, anonymous.is_admin) == ("anonymous", None, None, False)
    assert (system.kind, system.is_admin) == ("system", True)
    assert anonymous == lms.Actor.anonymous() and anonymous != system
    assert system.to_dict() == {"kind": "system"}
    assert repr(anonymous) == "Actor(kind='anonymous')"


async def test_the_anonymous_actor_is_asked_to_sign_in(school: lms.Lms, world: World) -> None:
    with pytest.raises(lms.Unauthenticated):
        await school.enroll(lms.Actor.anonymous(), world.course.id)
    # The published outline is public.
    detail = await school.course_detail(lms.Actor.anonymous(), world.course.id)
    assert detail.id == world.course.id


def test_records_are_read_only_views_whose_dicts_are_fresh_copies() -> None:
    record = lms.Course({"id": "c1", "tags": ["a"], "price": {"amount": 0}})
    assert record.price.amount == 0 and record.tags == ["a"] and record["id"] == "c1"
    copy = record.to_dict()
    copy["tags"].append("b")
    assert record.tags == ["a"]
    assert dict(record) == {"id": "c1", "tags": ["a"], "price": {"amount": 0}}
    assert record == lms.Course(copy | {"tags": ["a"]})
    with pytest.raises(AttributeError):
        record.title
    with pytest.raises(AttributeError):
        record.id = "other"  # type: ignore[misc]
    assert repr(record).startswith("Course(")


async def test_operator_calls_through_the_system_actor(school: lms.Lms, world: World) -> None:
    system = lms.Actor.system()
    student_id = world.student.user_id
    assert student_id is not None
    promoted = await school.set_role(system, student_id, "instructor")
    assert isinstance(promoted, lms.User) and promoted.role == "instructor"
    # The role change ended nothing, so one session is still open.
    assert await school.revoke_sessions(system, student_id) == 1
    with pytest.raises(lms.Unauthenticated):
        await school.authenticate(world.student_token)

    listed = await school.list_users(system, role="instructor")
    assert student_id in [u.id for u in listed] and all(isinstance(u, lms.User) for u in listed)
    found = await school.find_user(system, promoted.email)
    assert found == promoted

    stats = await school.stats(system)
    assert isinstance(stats, lms.Stats)
    events = await school.events(system, event_type="user.role_changed")
    assert [e.to_dict()["user_id"] for e in events] == [student_id]

    exported = await school.export_course(system, world.course.slug)
    assert exported.format == "lms.course/1"
    outcome = await school.import_course(system, exported)
    assert isinstance(outcome, lms.ImportOutcome)
    again = await school.export_course(system, world.course.slug)
    assert again == exported

    with pytest.raises(lms.Forbidden):
        await school.stats(world.instructor)
