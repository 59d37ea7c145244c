"""Run an app in uvicorn on a background thread: for the lesson, the tests and the benchmark.

    with BackgroundServer(app) as server:        # binds 127.0.0.1 on a port the OS picks
        server.base_url                          # "http://127.0.0.1:PORT/v1", for OpenAI(base_url=...)

The socket is bound before uvicorn starts (port 0: the OS picks a free one), so there is no race between
finding a free port and using it. stop() asks uvicorn to finish: it stops accepting, lets open requests end
(at most `graceful_s` seconds), runs the app's shutdown (which stops the engine) and the thread ends.

Taught in: solutions/12_serving.ipynb
"""

from __future__ import annotations

import socket
import threading
import time

__all__ = ["BackgroundServer", "bind", "is_loopback"]

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0: the OS picks a free one), ready for uvicorn's `sockets=`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Connections accepted on this socket inherit TCP_NODELAY (Linux): without it a response written in two
    # pieces (headers, then body) waits for the client's delayed ACK, about 40 ms per request on loopback.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return sock


class BackgroundServer:
    """uvicorn serving `app` on a daemon thread. A context manager; also start() / stop()."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning", graceful_s: float = 5.0):
        self.app, self.host, self.port = app, host, port
        self.log_level, self.graceful_s = log_level, graceful_s
        self._server = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What OpenAI(base_url=...) wants: the server's /v1."""
        return f"{self.url}/v1"

    def start(self, timeout: float = 30.0) -> "BackgroundServer":
        import uvicorn

        if self._thread is not None:
            raise RuntimeError("this server is already running")
        sock = bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level=self.log_level, timeout_graceful_shutdown=self.graceful_s,
                                lifespan="on")
        self._server = uvicorn.Server(config)

        def run() -> None:
            try:
                self._server.run(sockets=[sock])
            except BaseException as error:  # reported by start() or stop(), not lost in the thread
                self._error = error
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name=f"uvicorn-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start within {timeout} s" +
                                   (f": {self._error!r}" if self._error else ""))
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 15.0) -> None:
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        alive = self._thread.is_alive()
        self._thread = None
        if alive:
            raise RuntimeError(f"the server on port {self.port} did not stop within {timeout} s")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
