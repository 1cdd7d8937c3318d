import os

from fastapi import FastAPI
from granian import Granian
from granian.constants import HTTPModes, Interfaces
from granian.http import HTTP1Settings
from granian.log import LogLevels

app = FastAPI()


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
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
