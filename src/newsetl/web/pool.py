"""httpcore's connection pool with linear bookkeeping.

httpcore (1.0.9) walks its connections on every request and every response close, and for
each idle connection counts the whole pool again: quadratic in the pool's size, under the
pool's lock that every fetching thread takes. A poll of many hosts keeps the pool full of
idle connections to hosts it will not ask again, so at 16 threads and 32 connections that
bookkeeping was a third of the client's CPU (docs/performance.md). The same policy, done in
one pass (the upstream fix, encode/httpcore#1035, is not released):

* closed connections leave; expired ones (keep-alive timed out, or the server closed the
  socket) are closed;
* idle connections beyond ``max_keepalive_connections`` are closed, oldest first — counting
  idle ones (httpcore counts all, so it keeps fewer than asked for);
* a queued request takes an available connection to its origin, else a new one while the
  pool has room, else the place of the oldest idle connection.

Probing an idle connection (has the server closed it?) is a system call; httpcore probes
every idle one on every pass. Here a pass probes the idle connections a queued request could
reuse (always, before reuse), and all of them at most once a second (``SWEEP_S``) — enough
to close keep-alive timeouts and server-closed sockets promptly.

A connection already handed to a request that has not started on it yet is idle too, but
it is spoken for: it is neither reused for another request nor closed to make room (closing
it would leave its request waiting for a read timeout, encode/httpcore#1110). That makes the
pool HTTP/1.1 only — one request per connection — which is what newsetl's client speaks
(``make_client`` does not enable HTTP/2).
"""

from __future__ import annotations

import time

import httpcore
from httpcore._sync.interfaces import ConnectionInterface

SWEEP_S = 1.0  # at most this long between probes of every idle connection


class LinearConnectionPool(httpcore.ConnectionPool):
    """A drop-in ``httpcore.ConnectionPool`` whose assignment pass walks the connections once,
    plus once per queued request looking for one to reuse (at most one queued request per
    fetching thread), instead of recounting the pool for every idle connection."""

    sweep_s = SWEEP_S
    _next_sweep = 0.0

    def _assign_requests_to_connections(self) -> list[ConnectionInterface]:
        # Called with the pool's lock held (httpcore's contract for this method).
        spoken_for = {id(r.connection) for r in self._requests if r.connection is not None}
        wanted = [r.request.url.origin for r in self._requests if r.connection is None]
        now = time.monotonic()
        sweep = now >= self._next_sweep
        if sweep:
            self._next_sweep = now + self.sweep_s  # the pool's lock is held: no race
        closing: list[ConnectionInterface] = []
        kept: list[ConnectionInterface] = []
        idle: list[ConnectionInterface] = []  # oldest first, not spoken for
        for conn in self._connections:
            if conn.is_closed():
                continue
            free = id(conn) not in spoken_for
            if free and (sweep or any(conn.can_handle_request(o) for o in wanted)) and conn.has_expired():
                closing.append(conn)
                continue
            kept.append(conn)
            if free and conn.is_idle():
                idle.append(conn)
        surplus = len(idle) - self._max_keepalive_connections
        if surplus > 0:
            dropped = {id(c) for c in idle[:surplus]}
            closing.extend(idle[:surplus])
            idle = idle[surplus:]
            kept = [c for c in kept if id(c) not in dropped]
        self._connections = kept

        for request in self._requests:
            if not request.is_queued():
                continue
            origin = request.request.url.origin
            reuse = next(
                (
                    c
                    for c in self._connections
                    if id(c) not in spoken_for and c.can_handle_request(origin) and c.is_available()
                ),
                None,
            )
            if reuse is not None:
                if reuse in idle:
                    idle.remove(reuse)
                spoken_for.add(id(reuse))  # HTTP/1.1: one request per connection
                request.assign_to_connection(reuse)
                continue
            if len(self._connections) >= self._max_connections:
                if not idle:
                    continue  # stays queued until a connection is released
                victim = idle.pop(0)
                self._connections.remove(victim)
                closing.append(victim)
            conn = self.create_connection(origin)
            self._connections.append(conn)
            spoken_for.add(id(conn))
            request.assign_to_connection(conn)
        return closing
