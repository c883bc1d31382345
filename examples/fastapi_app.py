"""A FastAPI app over the lms bindings: register and log in, the catalog,
course detail, enrolling, and progress. Every rule is the core's; the app
only turns bearer tokens into actors and errors into problem+json.

    pip install fastapi uvicorn   # and the bindings: see the README, "Python"
    LMS_JWT_SECRET=$(openssl rand -hex 32) uvicorn fastapi_app:app --app-dir examples

Settings come from the same variables as lms-http: LMS_DATABASE_URL
(default sqlite://./lms-data/lms.db), LMS_DATABASE_SCHEMA, LMS_JWT_SECRET.
Tests build the app around an already opened handle: create_app(school).
"""

from __future__ import annotations

import os
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Dict, Optional

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

import lms

# The one mapping from lms exceptions to HTTP, the table of DESIGN.md.
# Subclasses first; LmsError itself (internal errors) is the fallback.
STATUS = {
    lms.InvalidInput: (422, "Invalid input"),
    lms.Unauthenticated: (401, "Not signed in"),
    lms.Forbidden: (403, "Forbidden"),
    lms.NotFound: (404, "Not found"),
    lms.Conflict: (409, "Conflict"),
    lms.RateLimited: (429, "Too many requests"),
    lms.PaymentError: (402, "Payment failed"),
    lms.ProviderError: (502, "Provider failed"),
}


def problem(err: lms.LmsError) -> JSONResponse:
    """RFC 9457 problem+json with the core's stable code, as lms-http sends."""
    status, title = STATUS.get(type(err), (500, "Internal error"))
    body: Dict[str, Any] = {
        "type": f"urn:lms:problem:{err.code}",
        "title": title,
        "status": status,
        "detail": err.message if status != 500 else "internal error",
        "code": err.code,
    }
    if status == 422:
        body["errors"] = err.fields
    headers = {}
    if isinstance(err, lms.RateLimited) and err.retry_after is not None:
        headers["Retry-After"] = str(err.retry_after)
    return JSONResponse(body, status_code=status, headers=headers, media_type="application/problem+json")


class Registration(BaseModel):
    email: str
    password: str
    display_name: str


class Credentials(BaseModel):
    email: str
    password: str


class Progress(BaseModel):
    completed: Optional[bool] = None
    position_secs: Optional[int] = None


def create_app(school: Optional[lms.Lms] = None) -> FastAPI:
    """The app; without `school` it opens one from the environment at start."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if getattr(app.state, "lms", None) is None:
            app.state.lms = await lms.Lms.open(
                os.environ.get("LMS_DATABASE_URL", "sqlite://./lms-data/lms.db"),
                jwt_secret=os.environ["LMS_JWT_SECRET"],
                database_schema=os.environ.get("LMS_DATABASE_SCHEMA"),
            )
        yield

    # Handlers return lms records as they are and carry no return
    # annotation: FastAPI then encodes them with jsonable_encoder, which reads
    # a record as the mapping it is (exactly its to_dict()).
    app = FastAPI(title="lms on FastAPI", lifespan=lifespan)
    app.state.lms = school

    @app.exception_handler(lms.LmsError)
    async def on_lms_error(request: Request, err: lms.LmsError) -> JSONResponse:
        return problem(err)

    def handle(request: Request) -> lms.Lms:
        return request.app.state.lms

    async def actor(request: Request, authorization: Optional[str] = Header(None)) -> lms.Actor:
        """The bearer token's actor; no header is the anonymous actor. A bad
        token raises Unauthenticated, which becomes a 401."""
        if authorization is None:
            return lms.Actor.anonymous()
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise lms.Unauthenticated("send Authorization: Bearer <token>", "unauthenticated")
        return await handle(request).authenticate(token.strip())

    def client_ip(request: Request) -> Optional[str]:
        return request.client.host if request.client else None

    @app.post("/auth/register", status_code=201)
    async def register(body: Registration, request: Request):
        school = handle(request)
        # Throttle before the core hashes a password, as lms-http does.
        await school.throttle("register", client_ip(request), body.email)
        return await school.register(email=body.email, password=body.password, display_name=body.display_name)

    @app.post("/auth/login")
    async def login(body: Credentials, request: Request):
        school = handle(request)
        await school.throttle("login", client_ip(request), body.email)
        return await school.login(email=body.email, password=body.password)

    @app.get("/courses")
    async def catalog(
        request: Request,
        q: Optional[str] = None,
        level: Optional[str] = None,
        language: Optional[str] = None,
        price: Optional[str] = None,
        tag: Optional[str] = None,
        sort: Optional[str] = None,
        cursor: Optional[str] = None,
        limit: Optional[int] = None,
    ):
        query = dict(q=q, level=level, language=language, price=price, tag=tag, sort=sort, cursor=cursor, limit=limit)
        return await handle(request).catalog(**{k: v for k, v in query.items() if v is not None})

    @app.get("/courses/{course}")
    async def course_detail(course: str, request: Request, who: lms.Actor = Depends(actor)):
        return await handle(request).course_detail(who, course)

    @app.post("/courses/{course_id}/enroll")
    async def enroll(course_id: str, request: Request, who: lms.Actor = Depends(actor)):
        return await handle(request).enroll(who, course_id)

    @app.get("/courses/{course_id}/progress")
    async def course_progress(course_id: str, request: Request, who: lms.Actor = Depends(actor)):
        return await handle(request).course_progress(who, course_id)

    @app.post("/lectures/{lecture_id}/progress")
    async def update_progress(
        lecture_id: str, body: Progress, request: Request, who: lms.Actor = Depends(actor)
    ):
        return await handle(request).update_progress(who, lecture_id, **body.model_dump(exclude_none=True))

    @app.get("/me/enrollments")
    async def my_enrollments(request: Request, who: lms.Actor = Depends(actor)):
        # A list is an object, as over lms-http, so it can grow members.
        items = await handle(request).my_enrollments(who)
        return {"items": [item.to_dict() for item in items]}

    return app


# `uvicorn fastapi_app:app`: opened from the environment at start-up.
app = create_app()
