"""Roster import: units and people from CSV and XLSX, all-or-nothing validation."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import select

from storage.models import AuditEvent, Person, Unit
from workflow.errors import InvalidInput
from workflow.roster import (
    Change,
    ImportReport,
    Missing,
    RosterError,
    RowError,
    import_people,
    import_units,
    read_rows,
)

NOW = datetime(2026, 9, 14, 1, 30, tzinfo=UTC)

UNITS_HEADER = ["名称", "简称", "类型"]
UNITS = [
    ["区教育局", "教育局", "承办单位"],
    ["区交通运输局", "交通局", ""],
    ["区政府督查室", "督查室", "督办单位"],
    ["区政协提案委员会", "提案委", "提案委"],
]
PEOPLE_HEADER = ["姓名", "手机号", "角色", "单位", "界别", "职务"]
PEOPLE = [
    ["林晓", "13800000001", "委员", "", "教育界", ""],
    ["何平", "138-0000-0002", "委员、提案委", "", "医药卫生界", ""],
    ["高远", "+86 13800000020", "承办人", "区教育局", "", "科员"],
    ["蒋涛", "13800000022", "handler", "交通局", "", ""],
    ["董宁", "0839-8622340", "督办人", "区政府督查室", "", "主任"],
]


def write_csv(path: Path, rows, *, encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def write_xlsx(path: Path, rows) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def load(db, model):
    with db.session() as session:
        return list(session.exec(select(model).order_by(model.id)).all())


def people_by_phone(db) -> dict[str, Person]:
    return {p.phone: p for p in load(db, Person)}


def units_by_name(db) -> dict[str, Unit]:
    return {u.name: u for u in load(db, Unit)}


def import_sample_units(db, tmp_path) -> dict[str, Unit]:
    path = write_csv(tmp_path / "units.csv", [UNITS_HEADER, *UNITS])
    with db.session() as session:
        import_units(session, path, now=NOW)
    return units_by_name(db)


def refused(db, tmp_path, rows, *, name="people.csv") -> RosterError:
    """Import people rows that must be refused; nothing may be written."""
    before = len(load(db, Person)), len(load(db, AuditEvent))
    path = write_csv(tmp_path / name, rows)
    with pytest.raises(RosterError) as info, db.session() as session:
        import_people(session, path, now=NOW)
    assert (len(load(db, Person)), len(load(db, AuditEvent))) == before
    return info.value


# ---------------------------------------------------------------- good imports


def test_units_then_people_from_csv(db, tmp_path):
    units_file = write_csv(tmp_path / "units.csv", [UNITS_HEADER, *UNITS])
    with db.session() as session:
        report = import_units(session, units_file, now=NOW)
    assert report == ImportReport(created=4, updated=0, unchanged=0)
    units = units_by_name(db)
    assert units["区教育局"].short_name == "教育局"
    assert units["区教育局"].kind == "handling"
    assert units["区交通运输局"].kind == "handling"  # blank type: handling
    assert units["区政府督查室"].kind == "supervising"
    assert units["区政协提案委员会"].kind == "committee"
    assert units["区教育局"].created_at == NOW

    people_file = write_csv(tmp_path / "people.csv", [PEOPLE_HEADER, *PEOPLE])
    with db.session() as session:
        report = import_people(session, people_file, now=NOW)
    assert report == ImportReport(created=5, updated=0, unchanged=0)

    people = people_by_phone(db)
    assert set(people) == {
        "13800000001",
        "13800000002",
        "13800000020",
        "13800000022",
        "0839-8622340",
    }
    lin = people["13800000001"]
    assert (lin.name, lin.roles, lin.unit_id, lin.sector, lin.title) == (
        "林晓",
        "member",
        None,
        "教育界",
        None,
    )
    assert people["13800000002"].roles == "member,staff"
    gao = people["13800000020"]
    assert (gao.roles, gao.unit_id, gao.title) == ("handler", units["区教育局"].id, "科员")
    assert people["13800000022"].unit_id == units["区交通运输局"].id  # matched by short name
    dong = people["0839-8622340"]
    assert (dong.roles, dong.unit_id) == ("supervisor", units["区政府督查室"].id)
    assert lin.created_at == NOW and lin.updated_at == NOW

    events = load(db, AuditEvent)
    assert [(e.action, e.actor_id, e.detail) for e in events] == [
        (
            "roster_import_units",
            None,
            {"file": "units.csv", "created": 4, "updated": 0, "unchanged": 0, "changes": []},
        ),
        (
            "roster_import_people",
            None,
            {"file": "people.csv", "created": 5, "updated": 0, "unchanged": 0, "changes": []},
        ),
    ]
    assert events[0].at == NOW


def test_units_then_people_from_xlsx_with_english_headers(db, tmp_path):
    units_file = write_xlsx(
        tmp_path / "units.xlsx",
        [
            ["Name", "Short Name", "Kind"],
            ["区卫生健康委员会", "卫健委", "handling"],
            ["区政府督查室", None, "Supervising"],
        ],
    )
    with db.session() as session:
        assert import_units(session, units_file, now=NOW).created == 2
    units = units_by_name(db)
    assert units["区卫生健康委员会"].short_name == "卫健委"
    assert units["区政府督查室"].kind == "supervising"
    assert units["区政府督查室"].short_name is None

    people_file = write_xlsx(
        tmp_path / "people.xlsx",
        [
            ["NAME", "Phone", "Roles", "Unit", "Sector", "Title"],
            [
                "彭娟",
                13800000023.0,
                "handler",
                "卫健委",
                None,
                None,
            ],  # a number, as Excel keeps it
            ["曹磊", 13800000004, "member, leader", None, "农业界", "副区长"],
            ["罗成", " 138 0000 0011 ", "Staff", None, None, None],
        ],
    )
    with db.session() as session:
        report = import_people(session, people_file, now=NOW)
    assert report == ImportReport(created=3, updated=0, unchanged=0)
    people = people_by_phone(db)
    assert set(people) == {"13800000023", "13800000004", "13800000011"}
    assert people["13800000023"].unit_id == units["区卫生健康委员会"].id
    assert people["13800000004"].roles == "member,leader"
    assert people["13800000004"].title == "副区长"
    assert people["13800000011"].roles == "staff"


def test_header_aliases_and_a_title_row_above_the_header(db, tmp_path):
    import_sample_units(db, tmp_path)
    path = write_xlsx(
        tmp_path / "名单.xlsx",
        [
            ["示范区政协委员及工作人员名单"],
            [],
            ["姓　名", "联系电话", "身份", "工作单位", "界别", "职务（选填）"],
            ["林　晓", "13800000001", "委员", None, "教育界", None],
            ["梁雪", "13800000021", "经办人", "区教育局", None, None],
        ],
    )
    rows = read_rows(path)
    assert [number for number, _ in rows] == [4, 5]
    assert rows[0][1]["name"] == "林　晓"
    assert set(rows[0][1]) == {"name", "phone", "roles", "unit", "sector", "title"}

    with db.session() as session:
        assert import_people(session, path, now=NOW).created == 2
    people = people_by_phone(db)
    assert people["13800000001"].name == "林晓"  # the padding space is dropped
    assert people["13800000021"].roles == "handler"


def test_a_workbook_whose_roster_is_not_on_its_first_sheet(db, tmp_path):
    """Templates often open with an instructions sheet (or an empty one): the roster is read
    from the first sheet whose header names a known column."""
    path = tmp_path / "单位名册.xlsx"
    workbook = openpyxl.Workbook()
    workbook.active.title = "填表说明"
    workbook.active.append(["请在「单位」工作表中填写，每行一个单位。"])
    workbook.create_sheet("空白")
    units = workbook.create_sheet("单位")
    for row in [["名称", "类型"], ["区教育局", "承办单位"], ["区政府督查室", "督办单位"]]:
        units.append(row)
    workbook.save(path)
    with db.session() as session:
        assert import_units(session, path, now=NOW).created == 2
    assert set(units_by_name(db)) == {"区教育局", "区政府督查室"}
    # a workbook with nothing on any sheet is still said to be empty
    empty = tmp_path / "空.xlsx"
    workbook = openpyxl.Workbook()
    workbook.create_sheet("第二页")
    workbook.save(empty)
    with pytest.raises(RosterError, match="是空的"), db.session() as session:
        import_units(session, empty, now=NOW)


def test_read_rows_numbers_rows_as_the_spreadsheet_does(tmp_path):
    path = write_xlsx(
        tmp_path / "people.xlsx",
        [
            ["姓名", "手机", "角色", "备注"],
            ["林晓", 13800000001.0, "委员", "  第一位 "],
            [None, None, None, None],
            ["何平", 13800000002, "委员", None],
        ],
    )
    assert read_rows(path) == [
        (2, {"name": "林晓", "phone": "13800000001", "roles": "委员", "备注": "第一位"}),
        (4, {"name": "何平", "phone": "13800000002", "roles": "委员", "备注": ""}),
    ]


def test_csv_with_bom(db, tmp_path):
    import_sample_units(db, tmp_path)
    path = write_csv(tmp_path / "bom.csv", [PEOPLE_HEADER, *PEOPLE[:2]], encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with db.session() as session:
        assert import_people(session, path, now=NOW).created == 2
    assert people_by_phone(db)["13800000001"].name == "林晓"


def test_csv_in_gb18030(db, tmp_path):
    units = write_csv(tmp_path / "units.csv", [UNITS_HEADER, *UNITS], encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        units.read_bytes().decode("utf-8")
    with db.session() as session:
        assert import_units(session, units, now=NOW).created == 4
    people = write_csv(tmp_path / "people.csv", [PEOPLE_HEADER, *PEOPLE], encoding="gb18030")
    with db.session() as session:
        assert import_people(session, people, now=NOW).created == 5
    stored = people_by_phone(db)
    assert stored["13800000020"].name == "高远"
    assert stored["13800000020"].unit_id == units_by_name(db)["区教育局"].id
    assert stored["13800000001"].sector == "教育界"


def test_namesakes_are_allowed(db, tmp_path):
    path = write_csv(
        tmp_path / "people.csv",
        [
            ["姓名", "手机", "角色"],
            ["黄蕾", "13800000003", "委员"],
            ["黄蕾", "13900000003", "委员"],
        ],
    )
    with db.session() as session:
        assert import_people(session, path, now=NOW).created == 2
    assert [p.name for p in load(db, Person)] == ["黄蕾", "黄蕾"]


# ---------------------------------------------------------------- refusals


def test_every_bad_row_is_reported_and_nothing_is_imported(db, tmp_path):
    import_sample_units(db, tmp_path)
    error = refused(
        db,
        tmp_path,
        [
            PEOPLE_HEADER,
            ["林晓", "13800000001", "委员", "", "", ""],  # 2: good
            ["何平", "1380000", "委员", "", "", ""],  # 3: bad phone
            ["黄蕾", "13800000003", "委员,校长", "", "", ""],  # 4: unknown role
            ["高远", "13800000020", "承办人", "", "", ""],  # 5: handler without unit
            ["梁雪", "13800000021", "承办人", "区文旅局", "", ""],  # 6: unknown unit
            ["曹磊", "138 0000 0001", "委员", "", "", ""],  # 7: phone of row 2
            ["", "13800000005", "委员", "", "", ""],  # 8: no name
            ["罗成", "", "", "", "", ""],  # 9: no phone, no role
        ],
    )
    assert isinstance(error, InvalidInput)
    assert [e.row for e in error.errors] == [3, 4, 5, 6, 7, 8, 9, 9]
    assert all(isinstance(e, RowError) for e in error.errors)
    messages = {e.row: e.message for e in error.errors}
    assert "1380000" in messages[3] and "格式不正确" in messages[3]
    assert "「校长」" in messages[4]
    assert "单位" in messages[5]
    assert messages[6] == "单位「区文旅局」不存在，请先导入单位"
    assert "第2行重复" in messages[7]
    assert "姓名不能为空" in messages[8]
    text = str(error)
    assert text.startswith("第3行：手机号「1380000」格式不正确")
    for row in (4, 5, 6, 7, 8, 9):
        assert f"第{row}行：" in text
    assert "未导入任何数据" in text
    # as the command line says it: a heading, then a line for each bad row
    lines = error.lines()
    assert lines[0] == "名册有 7 行有误，未导入任何数据，请改正后重新导入："
    assert [line.split("：")[0] for line in lines[1:]] == [f"第{n}行" for n in range(3, 10)]
    assert lines[-1] == "第9行：手机号不能为空；角色不能为空"
    assert load(db, Person) == []


@pytest.mark.parametrize(
    ("bad_row", "expected"),
    [
        (["何平", "13800000001", "委员", "", "", ""], "手机号 13800000001 与第2行重复"),
        (["何平", "13800000002", "委员;秘书", "", "", ""], "角色「秘书」无法识别"),
        (["高远", "13800000020", "承办人", "", "", ""], "承办人必须填写所在单位"),
        (["董宁", "13800000030", "督办人", "", "", ""], "督办人必须填写所在单位"),
        (["高远", "13800000020", "承办人", "区水务局", "", ""], "单位「区水务局」不存在"),
        (["何平", "12800000002", "委员", "", "", ""], "手机号「12800000002」格式不正确"),
        (["何平", "0839-86", "委员", "", "", ""], "格式不正确"),
        (["何平" * 26, "13800000002", "委员", "", "", ""], "姓名最多 50 个字"),
        (["何平", "13800000002", "、", "", "", ""], "角色不能为空"),
    ],
)
def test_one_bad_row_refuses_the_file(db, tmp_path, bad_row, expected):
    import_sample_units(db, tmp_path)
    good = ["林晓", "13800000001", "委员", "", "", ""]
    error = refused(db, tmp_path, [PEOPLE_HEADER, good, bad_row])
    assert len(error.errors) == 1
    assert error.errors[0].row == 3
    assert expected in error.errors[0].message
    assert str(error).startswith(f"第3行：{error.errors[0].message}")
    assert load(db, Person) == []


def test_duplicate_phone_in_another_format_is_caught(db, tmp_path):
    error = refused(
        db,
        tmp_path,
        [
            ["姓名", "手机", "角色"],
            ["林晓", "13800000001", "委员"],
            ["何平", "13800000002", "委员"],
            ["曹磊", "+86 138-0000-0001", "委员"],
        ],
    )
    assert [(e.row, e.message) for e in error.errors] == [(4, "手机号 13800000001 与第2行重复")]
    assert load(db, Person) == []


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        (["姓名", "角色", "单位"], "手机号"),
        (["手机", "角色"], "姓名"),
        (["姓名", "手机"], "角色"),
    ],
)
def test_missing_required_column(db, tmp_path, header, missing):
    row = {"姓名": "林晓", "手机": "13800000001", "角色": "委员", "单位": ""}
    path = write_csv(tmp_path / "people.csv", [header, [row[h] for h in header]])
    with pytest.raises(RosterError, match=f"缺少「{missing}」列") as info, db.session() as s:
        import_people(s, path, now=NOW)
    assert info.value.errors == [RowError(1, f"缺少「{missing}」列")]
    assert load(db, Person) == [] and load(db, AuditEvent) == []


def test_units_file_without_a_name_column(db, tmp_path):
    path = write_csv(tmp_path / "units.csv", [["简称", "类型"], ["教育局", "承办单位"]])
    with pytest.raises(RosterError, match="缺少「名称」列"), db.session() as session:
        import_units(session, path, now=NOW)
    assert load(db, Unit) == []


def test_bad_unit_rows_are_all_reported(db, tmp_path):
    path = write_csv(
        tmp_path / "units.csv",
        [
            UNITS_HEADER,
            ["区教育局", "教育局", "承办单位"],
            ["", "无名", ""],
            ["区教育局", "", ""],
            ["区财政局", "教育局", ""],
            ["区审计局", "", "领导单位"],
            ["区" + "很长" * 50, "", ""],
        ],
    )
    with pytest.raises(RosterError) as info, db.session() as session:
        import_units(session, path, now=NOW)
    errors = info.value.errors
    assert [e.row for e in errors] == [3, 4, 5, 6, 7]
    assert "单位名称不能为空" in errors[0].message
    assert "与第2行重复" in errors[1].message
    assert "简称「教育局」与第2行重复" in errors[2].message
    assert "「领导单位」" in errors[3].message
    assert "最多 100 个字" in errors[4].message
    assert load(db, Unit) == [] and load(db, AuditEvent) == []


@pytest.mark.parametrize("name", ["people.txt", "people.xls", "people.json", "people"])
def test_unsupported_file_type(db, tmp_path, name):
    path = tmp_path / name
    path.write_text("姓名,手机,角色\n林晓,13800000001,委员\n", encoding="utf-8")
    with pytest.raises(RosterError) as info, db.session() as session:
        import_people(session, path, now=NOW)
    assert "不支持" in str(info.value)
    assert "\n" not in str(info.value)
    assert load(db, Person) == []


def test_unreadable_files(db, tmp_path):
    broken = tmp_path / "people.xlsx"
    broken.write_bytes(b"this is not a workbook")
    with pytest.raises(RosterError, match="无法读取 Excel 文件"), db.session() as session:
        import_people(session, broken, now=NOW)
    with pytest.raises(RosterError, match="无法读取文件"), db.session() as session:
        import_people(session, tmp_path / "missing.csv", now=NOW)
    empty = tmp_path / "empty.csv"
    empty.write_text("\n,,\n", encoding="utf-8")
    with pytest.raises(RosterError, match="是空的"), db.session() as session:
        import_people(session, empty, now=NOW)
    header_only = write_csv(tmp_path / "header.csv", [["姓名", "手机", "角色"]])
    with pytest.raises(RosterError, match="没有数据行"), db.session() as session:
        import_people(session, header_only, now=NOW)
    assert load(db, Person) == [] and load(db, AuditEvent) == []


# ---------------------------------------------------------------- re-imports, blank rows


def test_reimport_updates_people_by_phone(db, tmp_path):
    units = import_sample_units(db, tmp_path)
    first = write_csv(tmp_path / "people.csv", [PEOPLE_HEADER, *PEOPLE])
    with db.session() as session:
        import_people(session, first, now=NOW)
    later = NOW + timedelta(days=3)
    second = write_xlsx(
        tmp_path / "people2.xlsx",
        [
            PEOPLE_HEADER,
            ["林晓", 13800000001, "委员", None, "教育界", None],  # unchanged
            ["何平", "13800000002", "委员,提案委", None, "医药卫生界", None],  # unchanged
            ["高远", "138-0000-0020", "承办人,委员", "区交通运输局", None, "副局长"],  # updated
            ["许静", "13800000010", "提案委", None, None, None],  # new
        ],
    )
    with db.session() as session:
        report = import_people(session, second, now=later)
    gao_changed = Change(
        4,
        "高远（13800000020）",
        ("角色 承办人 → 承办人、委员", "单位 区教育局 → 区交通运输局", "职务 科员 → 副局长"),
    )
    stored = people_by_phone(db)
    left_out = [  # people missing from the file are named, and left alone
        Missing(stored[phone].id, stored[phone].name, phone)
        for phone in ("13800000022", "0839-8622340")
    ]
    assert report == ImportReport(
        created=1, updated=1, unchanged=2, changes=[gao_changed], missing=left_out
    )
    assert report.lines() == [
        "新增 1 条，更新 1 条，未变 2 条。",
        "第4行 高远（13800000020）：角色 承办人 → 承办人、委员；单位 区教育局 → 区交通运输局；"
        "职务 科员 → 副局长",
    ]

    people = load(db, Person)
    assert len(people) == 6  # five from the first file, one new; none duplicated
    by_phone = {p.phone: p for p in people}
    gao = by_phone["13800000020"]
    assert (gao.name, gao.roles, gao.unit_id, gao.title) == (
        "高远",
        "handler,member",
        units["区交通运输局"].id,
        "副局长",
    )
    assert gao.created_at == NOW and gao.updated_at == later
    assert by_phone["13800000001"].updated_at == NOW
    assert by_phone["13800000010"].created_at == later
    # people missing from the second file are left alone
    assert by_phone["0839-8622340"].roles == "supervisor"
    assert by_phone["13800000022"].name == "蒋涛"

    # the same file again changes nothing
    with db.session() as session:
        report = import_people(session, second, now=later + timedelta(days=1))
    assert report == ImportReport(created=0, updated=0, unchanged=4, missing=left_out)
    assert len(load(db, Person)) == 6

    details = [e.detail for e in load(db, AuditEvent) if e.action == "roster_import_people"]
    named = [str(m) for m in left_out]
    assert details[1:] == [
        {
            "file": "people2.xlsx",
            "created": 1,
            "updated": 1,
            "unchanged": 2,
            "changes": [str(gao_changed)],
            "missing": named,
        },
        {
            "file": "people2.xlsx",
            "created": 0,
            "updated": 0,
            "unchanged": 4,
            "changes": [],
            "missing": named,
        },
    ]


def test_reimport_renames_and_keeps_columns_the_file_lacks(db, tmp_path):
    import_sample_units(db, tmp_path)
    first = write_csv(tmp_path / "people.csv", [PEOPLE_HEADER, *PEOPLE])
    with db.session() as session:
        import_people(session, first, now=NOW)
    # no unit, sector or title columns: those stay as they are
    second = write_csv(
        tmp_path / "people2.csv",
        [
            ["姓名", "手机", "角色"],
            ["林小晓", "13800000001", "委员"],
            ["高远", "13800000020", "承办人"],
        ],
    )
    with db.session() as session:
        report = import_people(session, second, now=NOW + timedelta(hours=1))
    # the rename is said, with the row, the old name and the new
    assert report == ImportReport(
        created=0,
        updated=1,
        unchanged=1,
        renamed=1,
        changes=[Change(2, "林小晓（13800000001）", ("姓名 林晓 → 林小晓",))],
        missing=[
            Missing(p.id, p.name, p.phone)
            for p in sorted(people_by_phone(db).values(), key=lambda p: p.id)
            if p.phone not in ("13800000001", "13800000020")
        ],
    )
    assert report.lines() == [
        "新增 0 条，更新 1 条（其中改名 1 人），未变 1 条。",
        "第2行 林小晓（13800000001）：姓名 林晓 → 林小晓",
    ]
    people = people_by_phone(db)
    assert people["13800000001"].name == "林小晓"
    assert people["13800000001"].sector == "教育界"
    assert people["13800000020"].unit_id is not None
    assert people["13800000020"].title == "科员"


def test_reimport_updates_units_by_name(db, tmp_path):
    import_sample_units(db, tmp_path)
    path = write_xlsx(
        tmp_path / "units2.xlsx",
        [
            ["单位名称", "简称", "单位类型"],
            ["区教育局", "教体局", "承办单位"],  # short name changed
            ["区交通运输局", "交通局", "督办单位"],  # kind changed
            ["区政府督查室", "督查室", "督办单位"],  # unchanged
            ["区住房和城乡建设局", "住建局", None],  # new
        ],
    )
    later = NOW + timedelta(days=1)
    with db.session() as session:
        report = import_units(session, path, now=later)
    assert report == ImportReport(
        created=1,
        updated=2,
        unchanged=1,
        changes=[
            Change(2, "区教育局", ("简称 教育局 → 教体局",)),
            Change(3, "区交通运输局", ("类型 承办单位 → 督办单位",)),
        ],
    )
    units = units_by_name(db)
    assert len(units) == 5
    assert units["区教育局"].short_name == "教体局"
    assert units["区教育局"].updated_at == later
    assert units["区交通运输局"].kind == "supervising"
    assert units["区政府督查室"].updated_at == NOW
    assert units["区住房和城乡建设局"].kind == "handling"
    assert units["区政协提案委员会"].kind == "committee"  # not in the file: untouched


def test_a_reimport_says_what_it_cleared_and_whom_it_leaves_deactivated(db, tmp_path):
    units = import_sample_units(db, tmp_path)
    first = write_csv(tmp_path / "people.csv", [PEOPLE_HEADER, *PEOPLE])
    with db.session() as session:
        import_people(session, first, now=NOW)
    with db.session() as session:
        for phone in ("13800000002", "13800000022"):  # 何平 and 蒋涛 were deactivated
            person = session.exec(select(Person).where(Person.phone == phone)).one()
            person.active = False
            session.add(person)
        unit = session.get(Unit, units["区政协提案委员会"].id)
        unit.active = False
        session.add(unit)
    people = write_csv(
        tmp_path / "people2.csv",
        [
            PEOPLE_HEADER,
            ["林晓", "13800000001", "委员", "", "", ""],  # 界别 cleared
            ["何平", "13800000002", "提案委、委员", "", "医药卫生界", ""],  # same roles
            ["蒋涛", "13800000022", "承办人", "交通局", "", "科长"],  # and a title
            ["高远", "13800000020", "委员", "", "", "科员"],  # no longer a handler
        ],
    )
    with db.session() as session:
        report = import_people(session, people, now=NOW)
    assert report.lines() == [
        "新增 0 条，更新 3 条，未变 1 条。",
        "第2行 林晓（13800000001）：界别 教育界 → （空）",
        "第3行 何平（13800000002）：已停用，导入不会恢复启用",
        "第4行 蒋涛（13800000022）：职务 （空） → 科长；已停用，导入不会恢复启用",
        "第5行 高远（13800000020）：角色 承办人 → 委员；单位 区教育局 → （空）",
    ]
    stored = people_by_phone(db)
    assert stored["13800000002"].roles == "member,staff"  # not rewritten in another order
    assert not stored["13800000002"].active and not stored["13800000022"].active

    again = write_csv(tmp_path / "units2.csv", [UNITS_HEADER, *UNITS])
    with db.session() as session:
        report = import_units(session, again, now=NOW)
    assert report.lines() == [
        "新增 0 条，更新 0 条，未变 4 条。",
        "第5行 区政协提案委员会：已停用，导入不会恢复启用",
    ]
    assert not units_by_name(db)["区政协提案委员会"].active


def test_blank_rows_are_skipped_but_rows_keep_their_numbers(db, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text(
        "姓名,手机,角色\n林晓,13800000001,委员\n\n,,\n , ,\n何平,13800000002,委员\n",
        encoding="utf-8",
    )
    assert [number for number, _ in read_rows(path)] == [2, 6]
    with db.session() as session:
        assert import_people(session, path, now=NOW).created == 2
    assert set(people_by_phone(db)) == {"13800000001", "13800000002"}

    bad = tmp_path / "bad.xlsx"
    write_xlsx(
        bad,
        [
            ["姓名", "手机", "角色"],
            ["曹磊", "13800000004", "委员"],
            [None, None, None],
            [None, "", None],
            ["黄蕾", "1380000000x", "委员"],
        ],
    )
    with pytest.raises(RosterError) as info, db.session() as session:
        import_people(session, bad, now=NOW)
    assert [e.row for e in info.value.errors] == [5]
    assert len(load(db, Person)) == 2


def test_people_import_refuses_an_inactive_unit(db, tmp_path):
    import_sample_units(db, tmp_path)
    with db.session() as session:
        unit = session.exec(select(Unit).where(Unit.name == "区教育局")).one()
        unit.active = False
        session.add(unit)
    error = refused(
        db,
        tmp_path,
        [["姓名", "手机", "角色", "单位"], ["高远", "13800000020", "承办人", "区教育局"]],
    )
    assert error.errors == [RowError(2, "单位「区教育局」已停用")]


def test_new_handler_needs_a_unit_even_without_a_unit_column(db, tmp_path):
    error = refused(db, tmp_path, [["姓名", "手机", "角色"], ["梁雪", "13800000021", "承办人"]])
    assert error.errors == [RowError(2, "承办人必须填写所在单位")]


def test_a_unit_name_or_short_name_held_by_another_unit_is_refused(db, tmp_path):
    import_sample_units(db, tmp_path)  # 区教育局, 简称 教育局
    for rows, says in (
        ([["教育局", "市教"]], "单位名称「教育局」已是另一个单位的简称"),
        ([["市教育局", "教育局"]], "简称「教育局」已是另一个单位的简称"),
        ([["市教育局", "区教育局"]], "简称「区教育局」已是另一个单位的名称"),
    ):
        path = write_csv(tmp_path / "more.csv", [["名称", "简称"], *rows])
        with db.session() as session, pytest.raises(RosterError) as refused:
            import_units(session, path, now=NOW)
        assert says in refused.value.errors[0].message
    assert sorted(units_by_name(db)) == sorted(u[0] for u in UNITS)  # nothing added
    # 区教育局 itself, imported again with its short name: unchanged, not refused
    again = write_csv(tmp_path / "again.csv", [["名称", "简称"], ["区教育局", "教育局"]])
    with db.session() as session:
        assert import_units(session, again, now=NOW).unchanged == 1


def test_a_unit_keeps_the_kind_its_handlers_or_supervisors_need(db, tmp_path):
    import_sample_units(db, tmp_path)
    with db.session() as session:
        import_people(session, write_csv(tmp_path / "p.csv", [PEOPLE_HEADER, *PEOPLE]), now=NOW)
    path = write_csv(
        tmp_path / "units2.csv",
        [
            UNITS_HEADER,
            ["区教育局", "教育局", "提案委"],  # 高远 handles for it
            ["区交通运输局", "交通局", "督办单位"],  # 蒋涛 handles for it
            ["区政府督查室", "督查室", "承办单位"],  # 董宁 supervises from it
            ["区政协提案委员会", "提案委", "承办单位"],  # nobody in it: may change
        ],
    )
    with db.session() as session, pytest.raises(RosterError) as refused:
        import_units(session, path, now=NOW)
    assert [(e.row, e.message) for e in refused.value.errors] == [
        (2, "「区教育局」有承办人高远，类型不能改为提案委（请先在人员名册中调整）"),
        (3, "「区交通运输局」有承办人蒋涛，类型不能改为督办单位（请先在人员名册中调整）"),
        (4, "「区政府督查室」有督办人董宁，类型不能改为承办单位（请先在人员名册中调整）"),
    ]
    units = units_by_name(db)
    assert [units[name].kind for name, _short, _kind in UNITS] == [
        "handling",
        "handling",
        "supervising",
        "committee",
    ]


def test_a_handler_must_be_of_a_handling_unit_and_a_supervisor_of_a_supervising_one(db, tmp_path):
    import_sample_units(db, tmp_path)
    path = write_csv(
        tmp_path / "p.csv",
        [
            ["姓名", "手机", "角色", "单位"],
            ["高远", "13800000020", "承办人", "区政府督查室"],
            ["董宁", "13800000030", "督办人", "区教育局"],
        ],
    )
    with db.session() as session, pytest.raises(RosterError) as refused:
        import_people(session, path, now=NOW)
    assert [(e.row, e.message) for e in refused.value.errors] == [
        (2, "承办人须属于承办单位，「区政府督查室」是督办单位"),
        (3, "督办人须属于督办单位，「区教育局」是承办单位"),
    ]
    assert people_by_phone(db) == {}


def test_a_people_import_names_who_the_file_leaves_out_and_deactivates_nobody(db, tmp_path):
    import_sample_units(db, tmp_path)
    with db.session() as session:
        import_people(session, write_csv(tmp_path / "all.csv", [PEOPLE_HEADER, *PEOPLE]), now=NOW)
    with db.session() as session:
        gone = session.exec(select(Person).where(Person.phone == "13800000022")).one()
        gone.active = False  # 蒋涛, deactivated already: not said to be missing
        session.add(gone)
    fewer = write_csv(tmp_path / "fewer.csv", [PEOPLE_HEADER, *PEOPLE[:2]])
    with db.session() as session:
        report = import_people(session, fewer, now=NOW)
    stored = people_by_phone(db)
    assert [str(m) for m in report.missing] == [
        f"#{stored['13800000020'].id} 高远（13800000020）",
        f"#{stored['0839-8622340'].id} 董宁（0839-8622340）",
    ]
    assert stored["13800000020"].active and stored["0839-8622340"].active
    with db.read_session() as session:
        event = session.exec(
            select(AuditEvent).where(AuditEvent.action == "roster_import_people")
        ).all()[-1]
    assert event.detail["missing"] == [str(m) for m in report.missing]
