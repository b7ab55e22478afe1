"""Roster import: units and people from a CSV or XLSX file.

Every row is checked before anything is written; one bad row refuses the whole file with
the row numbers a person sees in the spreadsheet (the header is row 1). Re-importing a file
updates units matched by name and people matched by phone, and never duplicates them; the
report says, row by row, what it changed in each (a new name, other roles, another unit…)
and which rows are of someone deactivated, whom an import does not bring back (``proposalbot
people reactivate`` does). People on the roster whom a people file no longer lists are named
in the report and left as they are; ``workflow.people.deactivate_missing`` deactivates them
in the same transaction when the operator asks for it.
Optional columns missing from the file leave the stored values alone; a present but blank
cell clears the value.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from storage.clock import as_utc
from storage.models import AuditEvent, Person, Unit
from workflow.errors import InvalidInput
from workflow.roles import ROLE_LABELS, Role, parse_roles
from workflow.texts import label


@dataclass(frozen=True)
class RowError:
    row: int  # spreadsheet row number; the header is row 1
    message: str


class RosterError(InvalidInput):
    """A file that cannot be imported; ``errors`` lists every bad row.

    ``message`` says it all on one line. A refusal of bad rows also has a ``heading``:
    ``lines()`` is then the heading and one line per bad row, each error said once.
    """

    code = "roster_invalid"

    def __init__(
        self, message: str, errors: Iterable[RowError] = (), *, heading: str | None = None
    ) -> None:
        super().__init__(message)
        self.errors: list[RowError] = list(errors)
        self.heading = heading

    def lines(self) -> list[str]:
        """The refusal as the command line says it: a heading, then every bad row once."""
        if self.heading is None:
            return [self.message]
        rows = _by_row(self.errors)
        return [self.heading, *(f"第{row}行：{'；'.join(said)}" for row, said in rows.items())]


def _by_row(errors: Iterable[RowError]) -> dict[int, list[str]]:
    by_row: dict[int, list[str]] = {}
    for error in sorted(errors, key=lambda e: e.row):
        by_row.setdefault(error.row, []).append(error.message)
    return by_row


@dataclass(frozen=True)
class Change:
    """What a re-import did to one unit or person already kept, or left undone."""

    row: int  # spreadsheet row number
    who: str  # the unit's name, or the person's name (as it is now) and phone
    what: tuple[str, ...]  # "姓名 林晓 → 林小晓", "已停用，导入不会恢复启用"…

    def __str__(self) -> str:
        return f"第{self.row}行 {self.who}：{'；'.join(self.what)}"


@dataclass(frozen=True)
class Missing:
    """An active person on the roster whom a people file does not list."""

    person_id: int
    name: str
    phone: str

    def __str__(self) -> str:
        return f"#{self.person_id} {self.name}（{self.phone}）"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    renamed: int = 0  # of the updated: people whose name the file changed
    changes: list[Change] = field(default_factory=list)
    # People still active whom the file does not list: said, never deactivated by the import
    # itself (``workflow.people.deactivate_missing`` does, when asked).
    missing: list[Missing] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def summary(self) -> str:
        renamed = f"（其中改名 {self.renamed} 人）" if self.renamed else ""
        return (
            f"新增 {self.created} 条，更新 {self.updated} 条{renamed}，未变 {self.unchanged} 条。"
        )

    def lines(self) -> list[str]:
        """The summary, then every change to someone kept already, row by row."""
        return [self.summary(), *(str(change) for change in self.changes)]


def _was(old: str | None, new: str | None) -> str:
    return f"{old or '（空）'} → {new or '（空）'}"


def _role_names(roles: str) -> str:
    names: list[str] = []
    for code in filter(None, roles.split(",")):
        try:
            names.append(ROLE_LABELS[Role(code)])
        except ValueError:  # a code no role has (not one an import writes): as it is
            names.append(code)
    return "、".join(names)


# ---------------------------------------------------------------- headers


def _header_key(text: str) -> str:
    """Fold a header for matching: width, case, spaces, "*", notes in brackets, colons."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"\(.*?\)", "", text)
    return re.sub(r"[\s_\-*:]", "", text)


# canonical key -> (Chinese label for messages, accepted header words)
PEOPLE_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("姓名", ("姓名", "name")),
    "phone": ("手机号", ("手机", "手机号", "手机号码", "电话", "联系电话", "phone", "mobile")),
    "roles": ("角色", ("角色", "身份", "roles", "role")),
    "unit": ("单位", ("单位", "所在单位", "工作单位", "unit")),
    "sector": ("界别", ("界别", "sector")),
    "title": ("职务", ("职务", "title")),
}
UNIT_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("名称", ("名称", "单位名称", "name")),
    "short_name": ("简称", ("简称", "short_name", "shortname")),
    "kind": ("类型", ("类型", "单位类型", "kind", "type")),
}


def _aliases(columns: Mapping[str, tuple[str, tuple[str, ...]]]) -> dict[str, str]:
    return {_header_key(word): key for key, (_, words) in columns.items() for word in words}


PEOPLE_ALIASES = _aliases(PEOPLE_COLUMNS)
UNIT_ALIASES = _aliases(UNIT_COLUMNS)
ALL_ALIASES = {**PEOPLE_ALIASES, **UNIT_ALIASES}

UNIT_KINDS: dict[str, str] = {
    "承办单位": "handling",
    "承办": "handling",
    "handling": "handling",
    "督办单位": "supervising",
    "督办": "supervising",
    "supervising": "supervising",
    "提案委": "committee",
    "提案委员会": "committee",
    "committee": "committee",
}


# ---------------------------------------------------------------- reading files


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _csv_rows(path: Path) -> list[list[str]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RosterError(f"无法读取文件「{path.name}」：{exc.strerror or exc}。") from exc
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise RosterError(f"无法识别文件「{path.name}」的编码，请另存为 UTF-8 编码的 CSV。")
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise RosterError(f"CSV 文件「{path.name}」格式有误：{exc}。") from exc


def _xlsx_sheets(path: Path) -> list[list[list[Any]]]:
    """The rows of each worksheet of the workbook, in order."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise RosterError(f"无法读取 Excel 文件「{path.name}」，请确认它是 .xlsx 格式。") from exc
    try:
        sheets = []
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()  # some writers store a wrong size; read what is there
            sheets.append([list(row) for row in sheet.iter_rows(values_only=True)])
        return sheets
    except Exception as exc:
        raise RosterError(f"无法读取 Excel 文件「{path.name}」的内容。") from exc
    finally:
        workbook.close()


def read_rows(
    path: Path, aliases: Mapping[str, str] | None = None
) -> list[tuple[int, dict[str, str]]]:
    """Read a CSV or XLSX roster into ``(row_number, row)`` pairs, keyed by canonical names.

    The header is the first non-blank row that names a known column (title rows above it
    are skipped); unknown columns keep their own header text. Fully blank rows are skipped.
    """
    return _read_table(Path(path), ALL_ALIASES if aliases is None else aliases)[1]


def _read_table(
    path: Path, aliases: Mapping[str, str]
) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        sheets: list[list[list[Any]]] = [list(_csv_rows(path))]
    elif suffix in (".xlsx", ".xlsm"):
        sheets = _xlsx_sheets(path)
    elif suffix == ".xls":
        raise RosterError("不支持旧版 .xls 文件，请在 Excel 中另存为 .xlsx 或 .csv 后再导入。")
    else:
        raise RosterError(f"不支持「{suffix or path.name}」文件，请上传 .xlsx 或 .csv 文件。")

    def names_a_column(cells: list[str]) -> bool:
        return any(_header_key(cell) in aliases for cell in cells)

    def non_blank(raw: list[list[Any]]) -> list[tuple[int, list[str]]]:
        rows = [(number, [_cell_text(v) for v in values]) for number, values in enumerate(raw, 1)]
        return [(number, cells) for number, cells in rows if any(cells)]

    # The first sheet whose header names a known column (a workbook may open with an
    # instructions sheet), else the first sheet with anything on it.
    filled = [rows for rows in map(non_blank, sheets) if rows]
    if not filled:
        raise RosterError(f"文件「{path.name}」是空的。")
    rows = next(
        (rows for rows in filled if any(names_a_column(cells) for _, cells in rows[:10])),
        filled[0],
    )

    header_at = next((i for i, (_, cells) in enumerate(rows[:10]) if names_a_column(cells)), 0)
    header_row, header = rows[header_at]
    keys: list[str | None] = []
    seen: dict[str, str] = {}
    for cell in header:
        if not cell:
            keys.append(None)
            continue
        key = aliases.get(_header_key(cell), cell)
        if key in seen:
            raise RosterError(
                f"第{header_row}行表头「{seen[key]}」和「{cell}」重复，请只保留一列。"
            )
        seen[key] = cell
        keys.append(key)

    result: list[tuple[int, dict[str, str]]] = []
    for number, cells in rows[header_at + 1 :]:
        row = {key: "" for key in keys if key}
        for column, cell in zip(keys, cells, strict=False):
            if column:
                row[column] = cell
        if any(row.values()):
            result.append((number, row))
    return list(seen), result


def _read(
    path: Path, columns: Mapping[str, tuple[str, tuple[str, ...]]], required: Iterable[str]
) -> tuple[list[tuple[int, dict[str, str]]], set[str]]:
    path = Path(path)
    keys, rows = _read_table(path, _aliases(columns))
    missing = [key for key in required if key not in keys]
    if missing:
        names = "、".join(f"「{columns[key][0]}」" for key in missing)
        hints = "；".join(f"{columns[key][0]}：{'/'.join(columns[key][1])}" for key in missing)
        raise RosterError(
            f"文件缺少{names}列（可用的表头：{hints}）。", [RowError(1, f"缺少{names}列")]
        )
    if not rows:
        raise RosterError(f"文件「{path.name}」中没有数据行。")
    return rows, set(keys)


def _refuse(errors: list[RowError]) -> RosterError:
    by_row = _by_row(errors)
    parts = [f"第{row}行：{'，'.join(messages)}" for row, messages in by_row.items()]
    shown = "；".join(parts[:20])
    if len(parts) > 20:
        shown += f"；……共 {len(parts)} 行有误"
    return RosterError(
        f"{shown}。未导入任何数据，请改正后重新导入。",
        errors,
        heading=f"名册有 {len(by_row)} 行有误，未导入任何数据，请改正后重新导入：",
    )


def _check_length(errors: list[RowError], row: int, value: str, what: str, max_chars: int) -> None:
    if len(value) > max_chars:
        errors.append(RowError(row, f"{what}最多 {max_chars} 个字，现在有 {len(value)} 个字"))


def _audit(session: Session, action: str, path: Path, report: ImportReport, now: datetime):
    session.add(
        AuditEvent(
            at=now,
            actor_id=None,
            action=action,
            detail={
                "file": Path(path).name,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "changes": [str(change) for change in report.changes],
                **({"missing": [str(m) for m in report.missing]} if report.missing else {}),
            },
        )
    )
    session.flush()


# ---------------------------------------------------------------- phones

_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"(0\d{2,3})-?(\d{7,8})")


def contact_mobile(text: str) -> str | None:
    """The mainland mobile of a phone number a chat app shared as a contact, or None.

    Chat apps share the account's number in international form, "+" or not: 8613800000010.
    Only +86 numbers are mainland ones: a bare 13800000010 from a contact is +1 380-000-0010
    (North America), not the roster's 138 0000 0010, and must never bind as that person.
    """
    digits = re.sub(r"[\s\-()\u2010-\u2015\u2212]", "", unicodedata.normalize("NFKC", text))
    digits = digits.removeprefix("+")
    if digits.startswith("0086"):
        digits = digits[4:]
    elif digits.startswith("86"):
        digits = digits[2:]
    else:
        return None
    return digits if _MOBILE.fullmatch(digits) else None


def normalise_phone(text: str) -> str | None:
    """A mainland mobile as 11 digits or a landline as "0839-8622340"; None if neither."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"\s", "", text)
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text).replace("(", "").replace(")", "-")
    text = text.strip("-")
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("0086"):
        text = text[4:]
    text = re.sub(r"-+", "-", text).strip("-")
    digits = text.replace("-", "")
    if not digits.isdigit():
        return None
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if _MOBILE.fullmatch(digits):
        return digits
    if "-" in text:
        match = _LANDLINE.fullmatch(text)
        if match is None:
            return None
        area, local = match.groups()
    else:
        size = 3 if digits[:2] in ("01", "02") else 4
        area, local = digits[:size], digits[size:]
    if not _LANDLINE.fullmatch(f"{area}-{local}"):
        return None
    if (area[:2] in ("01", "02")) != (len(area) == 3):
        return None  # 010 and 02x are the three-digit area codes, the rest have four
    return f"{area}-{local}"


# ---------------------------------------------------------------- units


def import_units(session: Session, path: Path, *, now: datetime) -> ImportReport:
    """Import units (名称, 简称, 类型); a re-import updates units matched by name."""
    now = as_utc(now)
    rows, present = _read(path, UNIT_COLUMNS, ["name"])
    errors: list[RowError] = []
    seen_names: dict[str, int] = {}
    seen_short: dict[str, int] = {}
    parsed: list[tuple[str, str | None, str | None]] = []
    for number, row in rows:
        name = row.get("name", "")
        short = row.get("short_name", "") or None
        kind_text = row.get("kind", "")
        kind: str | None = None
        if not name:
            errors.append(RowError(number, "单位名称不能为空"))
        else:
            _check_length(errors, number, name, "单位名称", 100)
            if name in seen_names:
                errors.append(RowError(number, f"单位「{name}」与第{seen_names[name]}行重复"))
            else:
                seen_names[name] = number
        if short:
            _check_length(errors, number, short, "简称", 50)
            if short in seen_short:
                errors.append(RowError(number, f"简称「{short}」与第{seen_short[short]}行重复"))
            else:
                seen_short[short] = number
        if kind_text:
            kind = UNIT_KINDS.get(kind_text) or UNIT_KINDS.get(kind_text.lower())
            if kind is None:
                errors.append(
                    RowError(
                        number,
                        f"单位类型「{kind_text}」无法识别，应为承办单位、督办单位或提案委",
                    )
                )
        elif "kind" in present:
            kind = "handling"
        parsed.append((name, short, kind))
    existing = {u.name: u for u in session.exec(select(Unit)).all()}
    # A name or short name must say one unit, across the file and the units kept already:
    # else a people file that said 教育局 would find another unit on its next import.
    names_in_file = {name for name, _short, _kind in parsed}
    for number, (name, short, _kind) in zip((n for n, _row in rows), parsed, strict=True):
        others = [u for u in existing.values() if u.name != name]
        if name and any(u.short_name == name for u in others):
            errors.append(RowError(number, f"单位名称「{name}」已是另一个单位的简称"))
        if short and short != name:
            if short in names_in_file or any(u.name == short for u in others):
                errors.append(RowError(number, f"简称「{short}」已是另一个单位的名称"))
            elif any(u.short_name == short for u in others if u.name not in names_in_file):
                errors.append(RowError(number, f"简称「{short}」已是另一个单位的简称"))
    # A handler is of a handling unit and a supervisor of a supervising one, as the people
    # import makes sure: a unit's new kind must still suit the people it has.
    for number, (name, _short, kind) in zip((n for n, _row in rows), parsed, strict=True):
        unit = existing.get(name)
        if unit is None or kind is None or kind == unit.kind:
            continue
        staff = session.exec(select(Person).where(Person.unit_id == unit.id)).all()
        for role, needed in _ROLE_UNIT_KIND.items():
            names = [p.name for p in staff if role.value in p.role_set and kind != needed]
            if names:
                shown = "、".join(names[:5]) + (f"等 {len(names)} 人" if len(names) > 5 else "")
                errors.append(
                    RowError(
                        number,
                        f"「{name}」有{ROLE_LABELS[role]}{shown}，类型不能改为"
                        f"{_KIND_LABELS.get(kind, kind)}（请先在人员名册中调整）",
                    )
                )
    if errors:
        raise _refuse(errors)

    report = ImportReport()
    for number, (name, short, kind) in zip((n for n, _row in rows), parsed, strict=True):
        unit = existing.get(name)
        if unit is None:
            unit = Unit(
                name=name,
                short_name=short,
                kind=kind or "handling",
                created_at=now,
                updated_at=now,
            )
            session.add(unit)
            existing[name] = unit
            report.created += 1
            continue
        what: list[str] = []
        if "short_name" in present and unit.short_name != short:
            what.append(f"简称 {_was(unit.short_name, short)}")
            unit.short_name = short
        if kind is not None and unit.kind != kind:
            what.append(
                f"类型 {_KIND_LABELS.get(unit.kind, unit.kind)} → {_KIND_LABELS.get(kind, kind)}"
            )
            unit.kind = kind
        if what:
            unit.updated_at = now
            session.add(unit)
            report.updated += 1
        else:
            report.unchanged += 1
        if not unit.active:
            what.append("已停用，导入不会恢复启用")
        if what:
            report.changes.append(Change(number, name, tuple(what)))
    session.flush()
    _audit(session, "roster_import_units", path, report, now)
    return report


# ---------------------------------------------------------------- people

_NEEDS_UNIT = (Role.HANDLER, Role.SUPERVISOR)
# The kind of unit each of those roles works in: a handler of a supervising unit would never
# be given anything to handle, and nothing would say why.
_ROLE_UNIT_KIND = {Role.HANDLER: "handling", Role.SUPERVISOR: "supervising"}
_KIND_LABELS = {"handling": "承办单位", "supervising": "督办单位", "committee": "提案委"}
_FIELD_LABELS = {
    "name": "姓名",
    "roles": "角色",
    "unit_id": "单位",
    "sector": "界别",
    "title": "职务",
}
# "林　晓": spaces that pad a two-character name to line up with three-character ones
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")


@dataclass
class _PersonRow:
    name: str
    phone: str
    roles: str
    unit_id: int | None
    sector: str | None
    title: str | None


def _find_unit(units: list[Unit], text: str) -> tuple[Unit | None, str | None]:
    by_name = [u for u in units if u.name == text]
    matches = by_name or [u for u in units if u.short_name == text]
    if not matches:
        return None, f"单位「{text}」不存在，请先导入单位"
    if len(matches) > 1:
        return None, f"简称「{text}」对应多个单位，请写单位全称"
    if not matches[0].active:
        return None, f"单位「{text}」已停用"
    return matches[0], None


def _people_by_phone(session: Session, phones: list[str]) -> dict[str, Person]:
    found: dict[str, Person] = {}
    for start in range(0, len(phones), 500):
        chunk = phones[start : start + 500]
        for person in session.exec(select(Person).where(col(Person.phone).in_(chunk))).all():
            found[person.phone] = person
    return found


def import_people(session: Session, path: Path, *, now: datetime) -> ImportReport:
    """Import people (姓名, 手机号, 角色, 单位, 界别, 职务); a re-import updates by phone."""
    now = as_utc(now)
    rows, present = _read(path, PEOPLE_COLUMNS, ["name", "phone", "roles"])
    units = list(session.exec(select(Unit)).all())
    known_roles = "、".join(ROLE_LABELS.values())
    errors: list[RowError] = []
    seen_phones: dict[str, int] = {}
    parsed: list[_PersonRow] = []
    # handlers and supervisors listed without a unit column keep the unit they already have
    unit_kept: list[tuple[int, str | None, list[label]]] = []
    for number, row in rows:
        name = _CJK_GAP.sub("", row.get("name", ""))
        if not name:
            errors.append(RowError(number, "姓名不能为空"))
        else:
            _check_length(errors, number, name, "姓名", 50)

        phone_text = row.get("phone", "")
        phone = normalise_phone(phone_text) if phone_text else None
        if not phone_text:
            errors.append(RowError(number, "手机号不能为空"))
        elif phone is None:
            errors.append(
                RowError(
                    number,
                    f"手机号「{phone_text}」格式不正确，应为11位手机号或带区号的固定电话"
                    "（如 0839-8622340）",
                )
            )
        elif phone in seen_phones:
            errors.append(RowError(number, f"手机号 {phone} 与第{seen_phones[phone]}行重复"))
        else:
            seen_phones[phone] = number

        roles: list[Role] = []
        roles_text = row.get("roles", "")
        try:
            roles = parse_roles(roles_text)
        except ValueError as exc:
            errors.append(RowError(number, f"角色「{exc}」无法识别，可用的角色：{known_roles}"))
        else:
            if not roles:
                errors.append(RowError(number, "角色不能为空"))

        unit_text = row.get("unit", "")
        unit: Unit | None = None
        if unit_text:
            unit, problem = _find_unit(units, unit_text)
            if problem:
                errors.append(RowError(number, problem))
            elif unit is not None:
                for role, kind in _ROLE_UNIT_KIND.items():
                    if role in roles and unit.kind != kind:
                        errors.append(
                            RowError(
                                number,
                                f"{ROLE_LABELS[role]}须属于{_KIND_LABELS[kind]}，"
                                f"「{unit.name}」是{_KIND_LABELS.get(unit.kind, unit.kind)}",
                            )
                        )
        else:
            needing = [ROLE_LABELS[r] for r in roles if r in _NEEDS_UNIT]
            if needing and "unit" in present:
                errors.append(RowError(number, f"{'、'.join(needing)}必须填写所在单位"))
            elif needing:
                unit_kept.append((number, phone, needing))

        sector = row.get("sector", "") or None
        title = row.get("title", "") or None
        if sector:
            _check_length(errors, number, sector, "界别", 50)
        if title:
            _check_length(errors, number, title, "职务", 50)
        parsed.append(
            _PersonRow(
                name=name,
                phone=phone or "",
                roles=",".join(r.value for r in roles),
                unit_id=unit.id if unit else None,
                sector=sector,
                title=title,
            )
        )
    existing = _people_by_phone(session, list(seen_phones))
    for number, phone, needing in unit_kept:
        known = existing.get(phone) if phone else None
        if known is None or known.unit_id is None:
            errors.append(RowError(number, f"{'、'.join(needing)}必须填写所在单位"))
    if errors:
        raise _refuse(sorted(errors, key=lambda e: e.row))

    fields = ["name", "roles"]
    if "unit" in present:
        fields.append("unit_id")
    fields += [key for key in ("sector", "title") if key in present]
    unit_names = {u.id: u.name for u in units}

    def shown(key: str, value: Any) -> str | None:
        if key == "roles":
            return _role_names(value)
        if key == "unit_id":
            return unit_names.get(value) if value is not None else None
        return value

    def same(key: str, old: Any, new: Any) -> bool:
        if key == "roles":  # the same roles written in another order are no change
            return set(filter(None, old.split(","))) == set(filter(None, new.split(",")))
        return old == new

    report = ImportReport()
    for number, item in zip((n for n, _row in rows), parsed, strict=True):
        person = existing.get(item.phone)
        if person is None:
            session.add(
                Person(
                    name=item.name,
                    phone=item.phone,
                    roles=item.roles,
                    unit_id=item.unit_id,
                    sector=item.sector,
                    title=item.title,
                    created_at=now,
                    updated_at=now,
                )
            )
            report.created += 1
            continue
        what: list[str] = []
        for key in fields:
            value, old = getattr(item, key), getattr(person, key)
            if not same(key, old, value):
                what.append(f"{_FIELD_LABELS[key]} {_was(shown(key, old), shown(key, value))}")
                setattr(person, key, value)
                if key == "name":
                    report.renamed += 1
        if what:
            person.updated_at = now
            session.add(person)
            report.updated += 1
        else:
            report.unchanged += 1
        if not person.active:
            what.append("已停用，导入不会恢复启用")
        if what:
            report.changes.append(Change(number, f"{person.name}（{person.phone}）", tuple(what)))
    session.flush()
    listed = set(seen_phones)
    report.missing = [
        Missing(person.id, person.name, person.phone)
        for person in session.exec(
            select(Person).where(col(Person.active).is_(True)).order_by(col(Person.id))
        ).all()
        if person.phone not in listed and person.id is not None
    ]
    _audit(session, "roster_import_people", path, report, now)
    return report
