"""The sync client's background thread (websockets runs one per connection
too): it keeps a connection alive while no thread of the program is in
``recv()``.

A thread in ``recv()`` does everything itself (receives, answers pings,
sees pongs, runs the library's deadlines), so the keeper stays out of its
way: it wakes at the library's deadlines (the keepalive ping is due, its
pong is late), and watches the socket only while no thread receives and
either a ``ping()`` waits for its pong or the connection has been idle for
:data:`IDLE` seconds (so that the server's pings are answered). A program
that receives in a loop never hands a message to this thread.
"""

from __future__ import annotations

import os
import select
import threading
from typing import Any, Callable, Optional

#: Seconds without a thread in recv() after which the keeper reads.
IDLE = 0.5


class Keeper:
    """The background thread of one connection: `step` (called at each
    wake-up, without the driver's lock) reads what arrived and runs the due
    deadlines; `watch()` says whether to wake when the socket is readable.
    `alive()` is false once the connection is over: the thread ends."""

    def __init__(
        self,
        driver: Any,
        step: Callable[[], None],
        watch: Callable[[], bool],
        alive: Callable[[], bool],
        name: str,
    ) -> None:
        self._driver = driver
        self._step = step
        self._watch = watch
        self._alive = alive
        self._stopped = False
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Look again now (e.g. a ping waits for its pong)."""
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"\0")
            except OSError:
                pass  # a wake-up is pending already

    def stop(self, timeout: Optional[float] = 2.0) -> None:
        """End the thread: wait for it (unless called from it), then free
        its pipe. Idempotent."""
        self._stopped = True
        self.wake()
        if threading.current_thread() is self._thread:
            return
        if self._thread.ident is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                return  # still in a step: its pipe stays open
        self._close_pipe()

    def _close_pipe(self) -> None:
        r, w, self._wake_r, self._wake_w = self._wake_r, self._wake_w, -1, -1
        for fd in (r, w):
            if fd >= 0:
                os.close(fd)

    def __del__(self) -> None:
        thread = getattr(self, "_thread", None)
        if hasattr(self, "_wake_w") and (thread is None or not thread.is_alive()):
            self._close_pipe()

    def _run(self) -> None:
        driver = self._driver
        try:
            while not self._stopped and self._alive():
                watch_fd = -1
                with driver.lock:
                    if driver.ptr is None:
                        return
                    due = driver.timeout()
                    if self._watch():
                        # A duplicate: another thread may close the connection meanwhile.
                        watch_fd = os.dup(driver.fileno())
                wait = due if watch_fd >= 0 else IDLE if due is None else min(due, IDLE)
                p = select.poll()
                p.register(self._wake_r, select.POLLIN)
                if watch_fd >= 0:
                    p.register(watch_fd, driver.wait_events())
                try:
                    p.poll(None if wait is None else max(1, int(wait * 1000) + 1))
                finally:
                    if watch_fd >= 0:
                        os.close(watch_fd)
                try:
                    while os.read(self._wake_r, 64):
                        pass
                except BlockingIOError:
                    pass
                if self._stopped:
                    return
                self._step()
        except Exception:  # noqa: BLE001 - the connection reports its own failures
            pass
