"""Long lists shown a page at a time, the same way in every flow.

A ``Pager`` says where a list keeps its page number in the conversation's data, and what its
page buttons and the line that tells the reader where they are say. ``pager.page(turn,
rows)`` is the page to show now (the kept number, brought within the list) with its rows,
its buttons and that line; ``pager.take(turn, value)`` keeps the page a tapped button asks
for. Every page button's value is ``pg:<page>``, counted from 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar, overload

from handlers.engine import Turn
from handlers.i18n import N_
from handlers.messages import Choice

PAGE_SIZE = 8  # rows (and so buttons) a page shows
PREFIX = "pg:"

Row = TypeVar("Row")
Other = TypeVar("Other")


@dataclass(frozen=True)
class Pager:
    """How one list pages. The texts are message ids, said in the reader's language; the
    position line may use {page}, {pages}, {first}, {last} and {total}."""

    key: str = "page"  # where turn.data keeps the page number
    back: str | None = N_("◀ 上一页")  # one page back, on every page but the first
    forward: str = N_("下一页 ▶")  # one page on, on every page but the last
    rewind: str | None = None  # back to the first page, offered on the last page only
    position: str = N_("（第 {page}/{pages} 页）")  # said when there is more than one page
    size: int = PAGE_SIZE

    def page(self, turn: Turn, rows: Sequence[Row]) -> Page[Row]:
        """The page of ``rows`` to show now; the kept page number is brought within them."""
        pages = max(1, -(-len(rows) // self.size))
        number = min(max(int(turn.data.get(self.key) or 0), 0), pages - 1)
        turn.data[self.key] = number
        start = number * self.size
        return Page(self, list(rows[start : start + self.size]), number, pages, len(rows), start)

    def take(self, turn: Turn, value: str) -> bool:
        """Keeps the page a page button asks for; False when ``value`` is not a page button."""
        page = value.removeprefix(PREFIX)
        if page == value or not (page.isascii() and page.isdigit()):
            return False
        turn.data[self.key] = int(page)
        return True


@dataclass
class Page(Generic[Row]):
    """One page of a list: its rows and where it stands in the list."""

    pager: Pager
    rows: list[Row]
    number: int  # from 0
    count: int  # pages in all
    total: int  # rows in all
    start: int  # the index of the first row in the whole list

    @property
    def first(self) -> int:
        """The place of the page's first row in the whole list, counted from 1."""
        return self.start + 1

    def buttons(self, turn: Turn) -> list[Choice]:
        """The buttons that turn the page (none when the list fits one page)."""
        pager = self.pager
        buttons = []
        if pager.back and self.number > 0:
            buttons.append(turn.choice(turn.t(pager.back), f"{PREFIX}{self.number - 1}"))
        if self.number < self.count - 1:
            buttons.append(turn.choice(turn.t(pager.forward), f"{PREFIX}{self.number + 1}"))
        elif pager.rewind and self.number > 0:
            buttons.append(turn.choice(turn.t(pager.rewind), f"{PREFIX}0"))
        return buttons

    def position(self, turn: Turn) -> list[str]:
        """The line that says where the reader is, as a list: empty for a single page."""
        if self.count <= 1:
            return []
        return [
            turn.t(
                self.pager.position,
                page=self.number + 1,
                pages=self.count,
                first=self.first,
                last=self.start + len(self.rows),
                total=self.total,
            )
        ]


class Fetched(Sequence[Row]):
    """A list read from the database a page at a time: its length from a count, a slice of
    it from ``fetch(offset, limit)``, so a pager shows page 3 of a long history without
    reading the rest. Each slice is read when asked for, the count once."""

    def __init__(self, count: Callable[[], int], fetch: Callable[[int, int], Sequence[Row]]):
        self._count = count
        self._fetch = fetch
        self._total: int | None = None

    def map(self, change: Callable[[Row], Other]) -> Fetched[Other]:
        """The same list with ``change`` applied to each row read (the count is shared)."""
        return Fetched(
            lambda: len(self),
            lambda offset, limit: [change(r) for r in self._fetch(offset, limit)],
        )

    def __len__(self) -> int:
        if self._total is None:
            self._total = self._count()
        return self._total

    @overload
    def __getitem__(self, index: int) -> Row: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Row]: ...
    def __getitem__(self, index: int | slice) -> Row | Sequence[Row]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                raise ValueError("a fetched list is read in steps of one")
            return list(self._fetch(start, stop - start)) if stop > start else []
        position = range(len(self))[index]  # IndexError outside the list, as a list does
        return self._fetch(position, 1)[0]
