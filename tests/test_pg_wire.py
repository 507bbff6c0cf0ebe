"""gateway/store/pg_wire.py: the consent log's batch statement sent on the libpq handle, without psycopg's cursors.
What the log relies on: the server's answer comes back as rows of text, a server error is raised as psycopg
raises it and leaves the connection usable, a parameter larger than the socket's buffer still goes whole, and a
wait given up (a deadline) leaves nothing registered on the event loop."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from gateway.store import pg_wire

TEXT_OID = 25


def on_connection(postgres_url, body):
    async def run():
        connection = await psycopg.AsyncConnection.connect(postgres_url, autocommit=True)
        try:
            return await body(connection)
        finally:
            await connection.close()
    return asyncio.run(run())


def test_rows_come_back_as_text_and_null_as_none(postgres_url) -> None:
    async def body(connection):
        return await pg_wire.execute(
            connection, b"SELECT $1::text || '!', NULL::text, n FROM generate_series(1, 2) AS n",
            ["é ☕".encode()], [TEXT_OID])

    assert on_connection(postgres_url, body) == [("é ☕!", None, "1"), ("é ☕!", None, "2")]


def test_a_server_error_is_psycopgs_and_the_connection_stays_usable(postgres_url) -> None:
    async def body(connection):
        with pytest.raises(psycopg.errors.DivisionByZero, match="division by zero"):
            await pg_wire.execute(connection, b"SELECT 1 / $1::int", [b"0"], [0])
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):  # bad JSON in a json parameter
            await pg_wire.execute(connection, b"SELECT $1", [b"{not json"], [pg_wire.JSON_OID])
        assert connection.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
        return await pg_wire.execute(connection, b"SELECT $1::int + 1", [b"41"], [0])

    assert on_connection(postgres_url, body) == [("42",)]


def test_a_parameter_larger_than_the_socket_buffer_goes_whole(postgres_url) -> None:
    big = ("x" * 1023 + "\n") * 16 * 1024  # 16 MiB: many times a loopback socket's send buffer

    async def body(connection):
        return await pg_wire.execute(connection, b"SELECT length($1), md5($1)", [big.encode()], [TEXT_OID])

    import hashlib

    assert on_connection(postgres_url, body) == [(str(len(big)), hashlib.md5(big.encode()).hexdigest())]


def test_a_wait_given_up_leaves_nothing_on_the_loop(postgres_url) -> None:
    async def body(connection):
        socket = connection.pgconn.socket
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await pg_wire.execute(connection, b"SELECT pg_sleep($1::float)", [b"5"], [0])
        loop = asyncio.get_running_loop()
        return loop.remove_reader(socket), loop.remove_writer(socket)

    assert on_connection(postgres_url, body) == (False, False)


def test_a_terminated_connection_is_psycopgs_operational_error(postgres_url) -> None:
    async def body(connection):
        pid = connection.info.backend_pid
        async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as other:
            await other.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))
        with pytest.raises(psycopg.OperationalError):
            await pg_wire.execute(connection, b"SELECT 1", [], [])

    on_connection(postgres_url, body)
