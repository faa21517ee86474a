"""Stop signals handled like Ctrl-C, and said at once.

:func:`stop_signals` (the CLI runs every command inside it) makes SIGINT, SIGTERM and SIGHUP raise
:class:`rtstyle.errors.Stopped` (a ``KeyboardInterrupt``) in the main thread, so every path that winds down on
Ctrl-C (a file job discards its temporary file, a live recording is finalised) does the same on ``kill`` or a closed
terminal. The exit code is 128 + the signal's number (130, 143, 129).

Python runs signal handlers only between two bytecodes of the main thread, which may sit for seconds in one
onnxruntime call (a big picture on the full tier). So the signal is also written to a wake-up socket
(``signal.set_wakeup_fd``) that a small thread watches: it says ``stopping…`` the moment the signal arrives.
Later signals while stopping are not raised again (the outputs being finalised must not be cut short); they are
said once.

A raise can be lost: the handler runs wherever the main thread happens to be, and third-party code that swallows
every exception (a C extension's module being imported, for one: numpy.random's first import did it) swallows it
too. So once a stop was raised, :func:`raise_if_stopped` raises it again, and the frame loop calls it before every
frame: a stop ends every frame loop of the run, whether the first raise got through or not. Where Python cannot let
a raise out (a weakref callback, a finaliser) it would print a traceback; within :func:`stop_signals` it does not.

Some code must not be cut anywhere: a raise inside :mod:`concurrent.futures`' bookkeeping can leave a future's lock
held, and the pool's shutdown then waits forever (found in CI: a Ctrl-C'd ``rtstyle batch`` that never ended).
Within :func:`deferred_stops` a signal is recorded, said at once as always, and raised only where the block calls
the check it yields.
"""

from __future__ import annotations

import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from rtstyle.errors import Stopped, notice

NAMES = {"SIGINT": "Ctrl-C", "SIGTERM": "SIGTERM", "SIGHUP": "SIGHUP"}


def _name(signum: int) -> str:
    try:
        return NAMES.get(signal.Signals(signum).name, signal.Signals(signum).name)
    except ValueError:
        return f"signal {signum}"


class _Stopping:
    """What has been said and raised so far (shared by the handler and the watcher thread)."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.lock = threading.Lock()
        self.said = 0  # 0: nothing yet, 1: "stopping…", 2: "still stopping…"
        self.seen = 0  # signals the watcher saw
        self.stopped: Stopped | None = None  # the stop the handler raised (or, while deferred, recorded)
        self.deferred = 0  # deferred_stops blocks entered

    def announce(self, signum: int, repeat: bool) -> None:
        with self.lock:
            if self.said == 0:
                self.said = 1
                message = f"stopping… ({_name(signum)})"
            elif repeat and self.said == 1:
                self.said = 2
                message = "still stopping: finishing the outputs (SIGKILL stops at once, and loses them)"
            else:
                return
        self.say(message)

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.announce(signum, repeat=False)
        if self.stopped is not None:  # raised once already
            return
        self.stopped = Stopped(signum, _name(signum))
        if not self.deferred:
            raise self.stopped

    def watch(self, sock: socket.socket, signums: set[int]) -> None:
        while True:
            try:
                data = sock.recv(64)
            except OSError:
                return
            if not data:
                return
            for b in data:
                if b in signums:
                    with self.lock:
                        self.seen += 1
                        repeat = self.seen > 1
                    self.announce(b, repeat)


_active: list[_Stopping] = []  # the stop_signals blocks entered (the innermost last)


_outside: list[Stopped] = []  # a stop a handler of its own raised outside stop_signals (a batch worker's)


def raise_if_stopped() -> None:
    """Raise :class:`Stopped` again if a signal already raised it within :func:`stop_signals`, or a handler of its
    own recorded one with :func:`stop_raised` (the first raise may have been swallowed on its way out); nothing
    otherwise."""
    first = _active[-1].stopped if _active else (_outside[0] if _outside else None)
    if first is not None:
        raise Stopped(first.signum, first.name)


def stop_raised(signum: int) -> Stopped:
    """For a signal handler of its own outside :func:`stop_signals` (a batch worker's, during one unit): the stop to
    raise, recorded so that :func:`raise_if_stopped` raises it again if something swallows it. :func:`forget_stop`
    clears it (the next unit)."""
    stop = Stopped(signum, _name(signum))
    _outside[:] = [stop]
    return stop


def forget_stop() -> None:
    """Clear what :func:`stop_raised` recorded."""
    _outside.clear()


def quiet_swallowed_stops(unraisable: Any) -> None:
    """A ``sys.unraisablehook``: a stop raised inside a weakref callback or a finaliser, where Python cannot let it
    out, is not printed as a traceback (the stop is recorded and raised again before the next frame); anything
    else goes to Python's own hook."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        return
    sys.__unraisablehook__(unraisable)


def _say(message: str) -> None:
    notice(message)


@contextmanager
def stop_signals(say: Callable[[str], None] = _say) -> Iterator[None]:
    """Within the ``with`` block, SIGINT/SIGTERM/SIGHUP raise :class:`Stopped` once, and ``say`` tells the user at
    once. Does nothing outside the main thread (Python delivers signals there only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signums = {int(getattr(signal, n)) for n in NAMES if hasattr(signal, n)}
    state = _Stopping(say)
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    old = {s: signal.signal(s, state.handler) for s in signums}
    old_fd = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    old_hook, sys.unraisablehook = sys.unraisablehook, quiet_swallowed_stops
    watcher = threading.Thread(target=state.watch, args=(reader, signums), name="rtstyle-signals", daemon=True)
    watcher.start()
    _active.append(state)
    try:
        yield
    finally:
        _active.remove(state)
        sys.unraisablehook = old_hook
        signal.set_wakeup_fd(old_fd)
        for s, h in old.items():
            signal.signal(s, h)
        writer.close()  # the watcher reads the end of the stream and returns
        watcher.join(timeout=2)
        reader.close()


@contextmanager
def deferred_stops() -> Iterator[Callable[[], None]]:
    """Within the ``with`` block, a stop signal does not raise wherever the main thread happens to be: the block
    calls the yielded check at its safe points, which raises the stop if one came (and the block's end raises it
    if the block never did). Within :func:`stop_signals` this covers SIGINT, SIGTERM and SIGHUP; outside it, under
    Python's own Ctrl-C handler, SIGINT (raising ``KeyboardInterrupt``). Elsewhere (another thread, a handler of
    the caller's own) the check does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    if _active:
        state = _active[-1]
        state.deferred += 1
        try:
            yield raise_if_stopped
        finally:
            state.deferred -= 1
        raise_if_stopped()
        return
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield lambda: None
        return
    came: list[int] = []

    def check() -> None:
        if came:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    try:
        yield check
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    check()
