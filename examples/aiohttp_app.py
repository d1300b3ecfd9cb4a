"""An aiohttp.web app timed per route template, served on a loopback port and called by
aiohttp's client."""

import asyncio

from aiohttp import ClientSession, web

import perfguard.aiohttp
from perfguard import PerformanceTracker

tracker = PerformanceTracker()


async def order(request: web.Request) -> web.Response:
    return web.json_response({"id": int(request.match_info["order_id"])})


async def main() -> None:
    app = web.Application(middlewares=[perfguard.aiohttp.middleware(tracker)])
    app.router.add_get("/orders/{order_id}", order)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        async with ClientSession() as client:
            for order_id in range(50):
                async with client.get(f"http://{host}:{port}/orders/{order_id}") as response:
                    await response.read()
    finally:
        await runner.cleanup()


asyncio.run(main())
stats = tracker.stats("GET /orders/{order_id}")
print(f"GET /orders/{{order_id}}: {stats['sample_count']} calls, p50 {stats['recent_p50']:.6f}s")
