"""The playground's server: Starlette routes and one WebSocket per page, served by uvicorn.

Safety, in one place (:class:`Guard`): every HTTP request and every socket must carry the
random token printed with the address (``?token=``), and its Host header must name the
loopback address the server listens on, so neither another local program nor a web page
elsewhere (DNS rebinding included) can drive it.  Messages from the page are size-capped
by the socket and validated by :func:`glassnet.playground.config.validate`; a bad one is
answered with a ``refused`` message and the run goes on.

Each socket owns one :class:`~glassnet.playground.session.Session` (up to
:data:`MAX_SESSIONS` at once; the next tab is told the others hold them); closing the page
closes the socket and stops its training.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import socket
import threading
from importlib import resources
from urllib.parse import parse_qs, parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from .._validation import GlassnetError
from .config import Config, from_query, validate
from .session import Session

#: pages (sockets) that may train at once; one more is told the others hold the runs
MAX_SESSIONS = 4
#: frames sent and not yet acknowledged by the page; training waits for the page
WINDOW = 2
#: largest message the page may send, in bytes (a settings change is well under 1 KiB)
MAX_MESSAGE = 16 * 1024
#: the control messages the page may send
MESSAGES = ("hello", "set", "play", "pause", "step", "reset", "ack", "doctor", "code")
#: the page's files, served from the package (no CDN, no build step)
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
_TOKEN_SLOT = "{{token}}"


class Guard:
    """ASGI middleware: refuse any request or socket without the token or with a foreign Host."""

    def __init__(self, app, token: str, hosts):
        self.app, self.token, self.hosts = app, token, set(hosts)

    def _problem(self, scope) -> str | None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        if host not in self.hosts:
            return f"Host {host[:80]!r} is not this playground's address"
        origin = headers.get("origin")
        if origin is not None and origin not in {f"http://{h}" for h in self.hosts}:
            return f"Origin {origin[:80]!r} is not this playground's page"
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        token = (query.get("token") or [""])[0]
        if not secrets.compare_digest(token.encode(), self.token.encode()):
            return "missing or wrong token: open the address glassnet playground printed"
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        problem = self._problem(scope)
        if problem is None:
            return await self.app(scope, receive, send)
        if scope["type"] == "websocket":
            await receive()                                # websocket.connect
            await send({"type": "websocket.close", "code": 1008, "reason": problem})
            return
        await PlainTextResponse(f"403 Forbidden: {problem}.", status_code=403)(
            scope, receive, send)


class Registry:
    """The sessions alive now, by id."""

    def __init__(self):
        self.sessions: dict[str, Session] = {}
        self.locks: dict[str, threading.Lock] = {}

    def add(self, session: Session) -> None:
        self.sessions[session.id] = session
        self.locks[session.id] = threading.Lock()

    def remove(self, session_id: str) -> None:
        self.sessions.pop(session_id, None)
        self.locks.pop(session_id, None)


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def make_app(token: str, port: int) -> Starlette:
    """The playground as an ASGI app, answering only on 127.0.0.1/localhost:``port``."""
    registry = Registry()

    async def index(request: Request):
        return HTMLResponse(_asset("index.html").replace(_TOKEN_SLOT, token),
                            headers={"Cache-Control": "no-store"})

    async def static(request: Request):
        name = request.path_params["name"]
        if name not in STATIC:
            return PlainTextResponse("404 Not Found", status_code=404)
        return Response(_asset(name), media_type=STATIC[name],
                        headers={"Cache-Control": "no-store"})

    async def model(request: Request):
        session_id = request.query_params.get("session", "")
        session = registry.sessions.get(session_id)
        if session is None:
            return PlainTextResponse(f"404: no run {session_id[:40]!r} (is its page open?)",
                                     status_code=404)
        lock = registry.locks[session_id]

        def export():
            with lock:
                return session.export(), session.config.data, session.epoch

        data, name, epoch = await asyncio.to_thread(export)
        filename = f"playground-{name}-epoch{epoch}.glassnet"
        return Response(data, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    async def status(request: Request):
        return JSONResponse({"sessions": {k: {"epoch": s.epoch, "playing": s.playing}
                                          for k, s in registry.sessions.items()}})

    async def socket_endpoint(ws: WebSocket):
        await ws.accept()
        if len(registry.sessions) >= MAX_SESSIONS:
            await ws.send_json({"type": "busy", "message":
                                f"{MAX_SESSIONS} other pages hold this playground's runs; "
                                "close one of them (or start another glassnet playground)."})
            await ws.close(code=1013)
            return
        session = Session(Config(), secrets.token_hex(8))
        registry.add(session)
        try:
            await Runner(ws, session, registry.locks[session.id]).run()
        finally:
            session.playing = False
            registry.remove(session.id)

    app = Starlette(routes=[
        Route("/", index), Route("/static/{name}", static), Route("/model", model),
        Route("/status", status), WebSocketRoute("/ws", socket_endpoint)])
    app.state.registry = registry
    hosts = [f"127.0.0.1:{port}", f"localhost:{port}"]
    return Guard(app, token, hosts)


class Runner:
    """One socket's loop: apply the page's messages between epochs, send what it draws."""

    def __init__(self, ws: WebSocket, session: Session, lock: threading.Lock):
        self.ws, self.session, self.lock = ws, session, lock
        self.queue: asyncio.Queue = asyncio.Queue()
        self.acked = 0
        self.last_doctor = None

    async def run(self) -> None:
        reader = asyncio.create_task(self._read())
        try:
            await self._loop()
        except WebSocketDisconnect:
            pass
        finally:
            reader.cancel()

    async def _read(self) -> None:
        """Move the page's messages to the queue; None when the page has gone."""
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None or len(text) > MAX_MESSAGE:
                    await self.queue.put({"type": "_bad", "why": "messages must be JSON text "
                                          f"of at most {MAX_MESSAGE} bytes"})
                    continue
                try:
                    await self.queue.put(json.loads(text))
                except ValueError:
                    await self.queue.put({"type": "_bad", "why": "a message was not JSON"})
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            await self.queue.put(None)

    async def _loop(self) -> None:
        s = self.session
        while True:
            if s.playing and s.frames - self.acked < WINDOW:
                while not self.queue.empty():          # settings first, then the epoch
                    if not await self._handle(self.queue.get_nowait()):
                        return
                if s.playing:
                    await self._advance()
                    await asyncio.sleep(0)
                continue
            if not await self._handle(await self.queue.get()):
                return

    async def _work(self, fn, *args):
        def locked():
            with self.lock:
                return fn(*args)
        return await asyncio.to_thread(locked)

    async def _advance(self, epochs: int | None = None) -> None:
        s = self.session
        frame = await self._work(lambda: (s.train(epochs), s.frame())[1])
        await self.ws.send_bytes(frame)
        if s.diverged or self.last_doctor is None or \
                s.epoch - self.last_doctor >= s.config.doctor_every:
            await self._doctor()

    async def _doctor(self) -> None:
        self.last_doctor = self.session.epoch
        await self.ws.send_json(await self._work(self.session.doctor))

    async def _restart(self) -> None:
        """After a reset: the layout, the first frame and the doctor's first reading."""
        s = self.session
        self.last_doctor = None
        setup = await self._work(s.setup)
        await self.ws.send_json(setup)
        await self._advance(epochs=0)

    async def _refuse(self, why: str) -> None:
        await self.ws.send_json({"type": "refused", "message": why[:500],
                                 "config": self.session.config.to_dict(),
                                 "query": self.session.config.to_query()})

    async def _handle(self, msg) -> bool:
        """Apply one message; False when the page has gone."""
        s = self.session
        if msg is None:
            return False
        kind = msg.get("type") if isinstance(msg, dict) else None
        if kind == "_bad":
            await self._refuse(msg["why"])
        elif kind not in MESSAGES:
            await self._refuse(f"unknown message type {str(kind)[:40]!r}; the page may send "
                               f"{list(MESSAGES)}")
        elif kind == "ack":
            frame = msg.get("frame")
            if isinstance(frame, int) and not isinstance(frame, bool) and 0 <= frame <= s.frames:
                self.acked = max(self.acked, frame)
            else:
                await self._refuse(f"ack must name a frame from 0 to {s.frames}; "
                                   f"got {str(frame)[:40]!r}")
        elif kind == "hello" and isinstance(msg.get("query"), str):
            await self._settings(kind, msg["query"])
        elif kind in ("hello", "set"):
            await self._settings(kind, msg.get("config"))
        elif kind == "play":
            s.playing = not s.diverged
            await self.ws.send_json({"type": "state", "playing": s.playing, "epoch": s.epoch})
        elif kind == "pause":
            s.playing = False
            await self.ws.send_json({"type": "state", "playing": False, "epoch": s.epoch})
        elif kind == "step":
            s.playing = False
            await self._advance(epochs=1)
        elif kind == "reset":
            s.playing = False
            await self._work(s.reset)
            await self._restart()
        elif kind == "doctor":
            await self._doctor()
        elif kind == "code":
            await self.ws.send_json({"type": "code", "text": s.python_code(),
                                     "epoch": s.epoch})
        return True

    async def _settings(self, kind: str, changes) -> None:
        s = self.session
        if not isinstance(changes, (dict, str)) or (kind == "set" and isinstance(changes, str)):
            await self._refuse(f"{kind} needs a config object; got {type(changes).__name__}")
            if kind == "hello":
                await self._restart()
            return
        try:
            if kind == "hello":                # the whole config, from the page's address
                cfg = (from_query(parse_qsl(changes[:MAX_MESSAGE])) if isinstance(changes, str)
                       else validate(changes))
                await self._work(s.reset, cfg)
                outcome = "reset"
            else:
                outcome = await self._work(s.apply, changes)
        except GlassnetError as exc:
            await self._refuse(str(exc))
            if kind == "hello":
                await self._restart()
            return
        if outcome == "reset":
            s.playing = False
            await self._restart()
        else:
            await self.ws.send_json({"type": "config", "config": s.config.to_dict(),
                                     "query": s.config.to_query(), "version": s.version,
                                     "code": s.python_code()})
            if not s.playing:
                await self._advance(epochs=0)


def free_socket(port: int = 0) -> socket.socket:
    """A listening TCP socket on 127.0.0.1 (``port`` 0: one the system picks)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise GlassnetError(f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
                            "choose another port or leave --port out for a free one.") from None
    sock.listen(64)
    return sock


def make_server(port: int = 0, token: str | None = None, config: Config | None = None):
    """(uvicorn.Server, socket, address): ready to ``server.run(sockets=[sock])``."""
    import uvicorn
    sock = free_socket(port)
    port = sock.getsockname()[1]
    token = token or secrets.token_urlsafe(18)
    app = make_app(token, port)
    query = f"?token={token}" + (f"#{config.to_query()}" if config is not None else "")
    address = f"http://127.0.0.1:{port}/{query}"
    # sockets larger than 4x MAX_MESSAGE are cut by uvicorn; the rest get a polite refusal
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                           ws_max_size=4 * MAX_MESSAGE, ws_ping_interval=20.0,
                                           timeout_graceful_shutdown=3))
    return server, sock, address


def serve(port: int = 0, open_browser: bool = True, config: Config | None = None,
          announce=print) -> None:
    """Run the playground until Ctrl-C: print the address (with its token), open a browser."""
    server, sock, address = make_server(port, config=config)
    announce(f"glassnet playground: {address}")
    announce("(Ctrl-C stops it)")
    if open_browser:
        import webbrowser

        def show():
            if not webbrowser.open(address):
                announce("(no browser found here: open the address above in one)")
        threading.Timer(0.5, show).start()
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:      # uvicorn shut down first, then passes Ctrl-C on
        pass
    finally:
        sock.close()
