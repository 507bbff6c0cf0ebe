"""The benchmark's "write turned off" consent log: POST /consent's baseline, never used in production.

`TAG_GATEWAY_CONSENT_LOG=discard` is read here and nowhere else. `install()` wraps what
`ConsentLog.open` returns: the real log is opened (same schema migration, same engine), every
attribute is passed through, and only `record`, the durable write, does nothing. If the gateway
starts writing decisions through another method, the harness notices: it counts the records of the
discarding server after its load and fails when there are any.
"""

from __future__ import annotations

import os

ENV_VAR = "TAG_GATEWAY_CONSENT_LOG"


class DiscardingLog:
    def __init__(self, real):
        self._real = real

    def record(self, decision):
        return None  # the app does not read what record() returns; the decision is dropped

    async def record_async(self, decision):
        return None

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._real.close()


def install() -> bool:
    """Swap ConsentLog.open when TAG_GATEWAY_CONSENT_LOG=discard; True when it did."""
    if os.environ.get(ENV_VAR) != "discard":
        return False
    from gateway.store.log import ConsentLog

    real_open = ConsentLog.open.__func__

    def open_discarding(cls, *args, **kwargs):
        return DiscardingLog(real_open(cls, *args, **kwargs))

    ConsentLog.open = classmethod(open_discarding)
    return True
