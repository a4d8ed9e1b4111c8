"""Small real FastAPI apps for the route inventory tests: security dependencies at route,
router and app level, ``Security(...)`` with and without scopes, optional credentials, a mounted
sub-application and a websocket.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Security, WebSocket
from fastapi.security import APIKeyHeader, HTTPBearer, OAuth2PasswordBearer

from bulletproof.adapters.asgi import BulletproofMiddleware

oauth2 = OAuth2PasswordBearer(tokenUrl="token")
maybe_bearer = HTTPBearer(auto_error=False)
api_key = APIKeyHeader(name="X-API-Key")


def current_user(token: Annotated[str, Depends(oauth2)]) -> str:
    return token


def verify_signature(x_signature: Annotated[str, Header()]) -> None:
    return None


def pagination(limit: int = 10) -> int:
    return limit


app = FastAPI()
app.add_middleware(BulletproofMiddleware)


@app.get("/")
def index() -> dict[str, str]:
    return {"ok": "yes"}


@app.post("/token")
def login() -> dict[str, str]:
    return {"token": "t"}


@app.get("/me")
def me(user: Annotated[str, Depends(current_user)]) -> str:
    return user


@app.post("/items", dependencies=[Depends(api_key)])
def create_item(limit: Annotated[int, Depends(pagination)]) -> int:
    return limit


@app.post("/webhook", dependencies=[Security(verify_signature)])
def webhook() -> None:
    return None


@app.delete("/items/{item_id}")
def delete_item(
    item_id: int, user: Annotated[str, Security(current_user, scopes=["items:write"])]
) -> int:
    return item_id


@app.get("/feed")
def feed(credentials: Annotated[object, Depends(maybe_bearer)]) -> str:
    return "feed"


@app.put("/settings")
def put_settings(limit: Annotated[int, Depends(pagination)]) -> int:
    return limit


@app.websocket("/ws")
async def ws(websocket: WebSocket, user: Annotated[str, Depends(current_user)]) -> None:
    await websocket.accept()


admin = APIRouter(prefix="/admin", dependencies=[Depends(current_user)])


@admin.post("/reset")
def reset() -> None:
    return None


app.include_router(admin)

v1 = FastAPI()


@v1.patch("/profile")
def patch_profile() -> None:
    return None


app.mount("/v1", v1)

locked = FastAPI(dependencies=[Depends(api_key)])


@locked.post("/jobs")
def jobs() -> None:
    return None
