"""A Starlette (or FastAPI) app timed per route template; requests sent in-process."""

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from perfguard import PerformanceTracker
from perfguard.asgi import PerfguardMiddleware

tracker = PerformanceTracker()


async def get_user(request):
    return JSONResponse({"id": request.path_params["user_id"]})


app = Starlette(routes=[Route("/users/{user_id}", get_user)])
app.add_middleware(PerfguardMiddleware, tracker=tracker)


async def main() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        for user_id in range(50):
            await client.get(f"/users/{user_id}")
    stats = tracker.stats("GET /users/{user_id}")
    print(f"GET /users/{{user_id}}: {stats['sample_count']} calls, p50 {stats['recent_p50']:.6f}s")


asyncio.run(main())
