import asyncio
from test_e2e_core import build, peer, serve

async def test_dbg():
    app, sio, recorder = build("default", None)
    async def dump():
        await asyncio.sleep(8)
        for t in asyncio.all_tasks():
            t.print_stack(limit=6)
    d = asyncio.create_task(dump())
    async with serve(app) as url:
        print("served", flush=True)
        async with peer(sio, url, {}, transports=["polling"]) as p:
            print("connected", flush=True)
            for namespace in ("/", "/chat"):
                sid = p.sid(namespace)
                print(await p.call("echo", "text", namespace), flush=True)
            print("disconnecting", flush=True)
        print("disconnected", flush=True)
    print("stopped", flush=True)
    d.cancel()
