"""One scenario through the bindings, read back through lms-http on the same
database: the JSON is identical, because both faces serialize the core's
structs. The server is the workspace's debug build (LMS_HTTP_BIN overrides;
scripts/test-python builds it)."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Iterator, List

import httpx
import pytest

import lms

from conftest import PASSWORD, SECRET, Database, build_world

ROOT = Path(__file__).resolve().parents[2]


def http_binary() -> Path:
    binary = Path(os.environ.get("LMS_HTTP_BIN", ROOT / "target" / "debug" / "lms-http"))
    if not binary.is_file():
        pytest.fail(f"{binary} is missing: run `cargo build -p lms-http` (scripts/test-python does)")
    return binary


class Server:
    """lms-http on 127.0.0.1:0 over the test's store."""

    def __init__(self, database: Database, data_dir: Path) -> None:
        args = [
            str(http_binary()),
            "--database-url", database.url,
            "--data-dir", str(data_dir),
            "--bind", "127.0.0.1:0",
            "--jwt-secret", SECRET,
        ]
        if database.schema is not None:
            args += ["--database-schema", database.schema]
        # Only what the server needs: no LMS_* setting of the caller leaks in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("LMS_")}
        self.process = subprocess.Popen(
            args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: List[str] = []
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            found = re.search(r"listening on (\S+)", line)
            if found:
                self.base = f"http://{found.group(1).rstrip(',')}"
                break
        else:
            raise AssertionError("lms-http exited before listening:\n" + "".join(self.lines))
        # Keep draining the log so the server never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def server(database: Database, school: lms.Lms, tmp_path: Path) -> Iterator[Server]:
    # `school` first: the bindings create the schema and run the migrations.
    running = Server(database, tmp_path / "http-data")
    yield running
    running.stop()


async def test_the_bindings_and_lms_http_answer_the_same_json(school: lms.Lms, server: Server) -> None:
    world = await build_world(school)
    await school.enroll(world.student, world.course.id)
    for lecture in world.lectures:
        await school.update_progress(world.student, lecture.id, completed=True)
    await school.update_progress(world.student, world.lectures[1].id, position_secs=42)

    detail = await school.course_detail(world.student, world.course.id)
    progress = await school.course_progress(world.student, world.course.id)
    mine = await school.my_enrollments(world.student)
    catalog = await school.catalog()
    me = await school.current_user(world.student)

    headers = {"authorization": f"Bearer {world.student_token}"}
    async with httpx.AsyncClient(base_url=server.base, headers=headers) as http:
        async def get(path: str) -> object:
            response = await http.get(f"/api/v1{path}")
            assert response.status_code == 200, response.text
            return response.json()

        assert await get(f"/courses/{world.course.id}") == detail.to_dict()
        assert await get(f"/courses/{world.course.slug}") == detail.to_dict()
        assert await get(f"/courses/{world.course.id}/progress") == progress.to_dict()
        assert await get("/me/enrollments") == {"items": [row.to_dict() for row in mine]}
        assert await get("/courses") == catalog.to_dict()
        assert await get("/me") == me.to_dict()

        # And the other way round: a write over HTTP is what the bindings read.
        reset = await http.delete(f"/api/v1/courses/{world.course.id}/progress")
        assert reset.status_code == 200, reset.text
        assert reset.json() == (await school.course_progress(world.student, world.course.id)).to_dict()
        assert (await school.course_progress(world.student, world.course.id)).completed_lectures == 0

    # A token the server issued authenticates in the bindings (same secret).
    async with httpx.AsyncClient(base_url=server.base) as http:
        login = await http.post(
            "/api/v1/auth/login",
            json={"email": me.email, "password": PASSWORD},
        )
        assert login.status_code == 200, login.text
        actor = await school.authenticate(login.json()["access_token"])
        assert actor.user_id == me.id
