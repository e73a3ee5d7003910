"""Walks the List RPCs' cursor pages (spot.common.v1.PageRequest / PageResponse).

Every paged request has a `page` (size and token) and every paged response a `page` whose
`next_page_token` is empty on the last page. The caller's request is copied, never changed.
"""

from __future__ import annotations

import copy

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar

import grpc

from spot_sdk.errors import SpotError
from spot_sdk.gen.spot.common.v1 import common_pb2


class PagedRequest(Protocol):
    @property
    def page(self) -> common_pb2.PageRequest: ...


class PagedResponse(Protocol):
    @property
    def page(self) -> common_pb2.PageResponse: ...


Request = TypeVar("Request", bound=PagedRequest)
Response = TypeVar("Response", bound=PagedResponse)
Item = TypeVar("Item")


def pages(
    method: grpc.UnaryUnaryMultiCallable[Request, Response],
    request: Request,
    *,
    page_size: int = 0,
) -> Iterator[Response]:
    """Each response of a List RPC, from the first page to the last.

    `page_size` 0 keeps the request's own (0 there: the server's default, 50; at most 500).
    """
    current = copy.deepcopy(request)
    if page_size:
        current.page.page_size = page_size
    seen: set[str] = set()
    while True:
        response = method(current)
        yield response
        token = response.page.next_page_token
        if not token:
            return
        if token in seen:
            # A server bug would otherwise loop forever.
            raise SpotError(
                grpc.StatusCode.INTERNAL,
                f"the server returned the page token {token!r} twice; stopping",
            )
        seen.add(token)
        current.page.page_token = token


def paginate(
    method: grpc.UnaryUnaryMultiCallable[Request, Response],
    request: Request,
    items: Callable[[Response], Iterable[Item]],
    *,
    page_size: int = 0,
) -> Iterator[Item]:
    """Every item of a List RPC across its pages, fetching the next page only when needed.

    `items` picks the list out of a response: `lambda r: r.clusters`.
    """
    for response in pages(method, request, page_size=page_size):
        yield from items(response)
