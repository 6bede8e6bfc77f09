"""Status codes (gRPC's names and numbers) and the error every failed call raises."""

from __future__ import annotations

import enum


class StatusCode(enum.IntEnum):
    """A call's outcome, as carried in `ReplyHeader.code`: gRPC's names and numbers.

    The members mirror `enum Code` of `proto/fuserank/v1/ranker.proto`; a unit test checks
    that they agree.
    """

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    @classmethod
    def from_wire(cls, value: int) -> StatusCode:
        """Returns the code for a number read off the wire; unknown numbers become UNKNOWN."""
        try:
            return cls(value)
        except ValueError:
            return cls.UNKNOWN


# Codes worth retrying: the server could not take the call now, or no reply came in time.
RETRYABLE = frozenset({StatusCode.UNAVAILABLE, StatusCode.DEADLINE_EXCEEDED})


class FuseRankError(Exception):
    """A call that did not end OK: the server's status code and message, or a client-side one.

    Client-side failures use the same codes: DEADLINE_EXCEEDED when no reply came in time
    (after every retry), UNAVAILABLE when the request could not be sent, INTERNAL when the
    server's reply could not be parsed.
    """

    def __init__(self, code: StatusCode | int | str, message: str) -> None:
        if isinstance(code, str):
            code = StatusCode[code]
        self.code: StatusCode = StatusCode.from_wire(int(code))
        self.message: str = message
        super().__init__(f"{self.code.name}: {message}")

    @property
    def retryable(self) -> bool:
        """Whether the same request may succeed if sent again later."""
        return self.code in RETRYABLE

    def __repr__(self) -> str:
        return f"FuseRankError({self.code.name}, {self.message!r})"
