import os
import threading
from pathlib import Path

import psycopg
from fastapi import FastAPI, HTTPException
from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels

app = FastAPI()
local = threading.local()


def connect() -> psycopg.Connection:
    env = os.environ
    return psycopg.connect(
        host=env["DB_HOST"],
        port=env["DB_PORT"],
        dbname=env["DB_NAME"],
        user=env["DB_USER"],
        password=Path(env["DB_PASSWORD_FILE"]).read_text().strip(),
        autocommit=True,
    )


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/items/{item_id}")
def item(item_id: int) -> dict[str, object]:
    # one connection per worker thread: the pool of the floor
    if not hasattr(local, "connection"):
        local.connection = connect()
    row = local.connection.execute(
        "SELECT id, name FROM items WHERE id = %s", (item_id,)
    ).fetchone()
    if row is None:
        raise HTTPException(404)
    return {"id": row[0], "name": row[1]}


if __name__ == "__main__":
    with connect() as setup:
        setup.execute(
            "CREATE TABLE IF NOT EXISTS items (id serial PRIMARY KEY, name text NOT NULL)"
        )
        setup.execute(
            "INSERT INTO items (name) SELECT 'floor' WHERE NOT EXISTS (SELECT 1 FROM items)"
        )
    Granian(
        "app.__main__:app",
        address="0.0.0.0",
        port=int(os.environ["PORT"]),
        interface=Interfaces.ASGI,
        http=HTTPModes.http1,
        websockets=False,
        log_level=LogLevels.warning,
        http1_settings=HTTP1Settings(header_read_timeout=10000, max_buffer_size=16384),
    ).serve()
