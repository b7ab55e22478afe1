"""Sample roster and helpers that walk a proposal to any point of its life."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from storage.models import Person, Unit


@dataclass
class World:
    education: int  # 区教育局
    transport: int  # 区交通运输局
    health: int  # 区卫生健康委员会
    inspection: int  # 区政府督查室 (supervising)
    member: int  # 林晓 — the proposer
    cosigner: int  # 何平
    cosigner2: int  # 黄蕾
    outsider: int  # 曹磊, a member unrelated to the proposal
    staff: int  # 许静
    staff2: int  # 罗成
    handler_edu: int  # 高远 (区教育局)
    handler_edu2: int  # 梁雪 (区教育局)
    handler_tr: int  # 蒋涛 (区交通运输局)
    handler_health: int  # 彭娟 (区卫生健康委员会)
    supervisor: int  # 董宁 (区政府督查室)
    leader: int  # 邓副区长


def build_world(session: Session) -> World:
    def unit(name, kind="handling"):
        u = Unit(name=name, kind=kind)
        session.add(u)
        session.flush()
        return u.id

    edu, tr, hl = unit("区教育局"), unit("区交通运输局"), unit("区卫生健康委员会")
    insp = unit("区政府督查室", "supervising")

    def person(name, phone, roles, unit_id=None, sector=None, title=None):
        p = Person(
            name=name, phone=phone, roles=roles, unit_id=unit_id, sector=sector, title=title
        )
        session.add(p)
        session.flush()
        return p.id

    return World(
        education=edu,
        transport=tr,
        health=hl,
        inspection=insp,
        member=person("林晓", "13800000001", "member", sector="教育界"),
        cosigner=person("何平", "13800000002", "member", sector="医药卫生界"),
        cosigner2=person("黄蕾", "13800000003", "member", sector="经济界"),
        outsider=person("曹磊", "13800000004", "member", sector="农业界"),
        staff=person("许静", "13800000010", "staff"),
        staff2=person("罗成", "13800000011", "staff"),
        handler_edu=person("高远", "13800000020", "handler", edu),
        handler_edu2=person("梁雪", "13800000021", "handler", edu),
        handler_tr=person("蒋涛", "13800000022", "handler", tr),
        handler_health=person("彭娟", "13800000023", "handler", hl),
        supervisor=person("董宁", "13800000030", "supervisor", insp),
        leader=person("邓启明", "13800000040", "leader", title="副区长"),
    )


SAMPLE_ANALYSIS = (
    "城区部分小学放学时段校门口道路拥堵，接送车辆随意停放，学生上下学存在安全隐患。\n"
    "现有护学岗力量不足，家长志愿者组织松散，缺少统一调度。"
)
SAMPLE_SUGGESTIONS = (
    "1、在校门周边划设临时即停即走车位，错峰放学。\n"
    "2、由交警、学校、社区共同组建护学队伍，建立排班制度。\n"
    "3、利用学校操场地下空间建设家长接送等候区。"
)


class Story:
    """Walks a proposal through its life, one transaction per step, as the right people.

    Each method returns the proposal id (or the object it made) so a test can stop at any
    point and try what comes next.
    """

    def __init__(self, db, wf, world: World) -> None:
        self.db, self.wf, self.w = db, wf, world

    def run(self, actor, fn, *args, **kwargs):
        with self.db.session() as session:
            ctx = self.wf.ctx(session, actor)
            return fn(ctx, *args, **kwargs)

    def draft(self, title="关于改善城区小学放学时段交通秩序的建议", cosigners=()) -> int:
        from workflow import proposals

        proposal = self.run(
            self.w.member,
            proposals.create_draft,
            title=title,
            field="社会事业",
            analysis=SAMPLE_ANALYSIS,
            suggestions=SAMPLE_SUGGESTIONS,
            suggested_unit="区教育局",
        )
        for person in cosigners:
            self.run(self.w.member, proposals.invite_cosigner, proposal.id, person)
        return proposal.id

    def submitted(self, cosigners=(), confirm=True, **kw) -> int:
        from workflow import proposals

        pid = self.draft(cosigners=cosigners, **kw)
        self.run(self.w.member, proposals.submit, pid)
        if confirm:
            for person in cosigners:
                self.run(person, proposals.confirm_cosign, pid)
        return pid

    def filed(self, **kw) -> int:
        from workflow import proposals

        pid = self.submitted(**kw)
        self.run(self.w.staff, proposals.file_proposal, pid)
        return pid

    def assigned(
        self, co=True, key=False, leader=None, supervising=None, due_date=None, **kw
    ) -> tuple[int, int, int | None]:
        """Returns (proposal id, lead assignment id, co assignment id or None). A key proposal
        is led by 邓启明 and supervised by 区政府督查室 unless ``leader`` / ``supervising``
        name others; ``due_date``: the reply's, instead of the default."""
        from workflow import assignments

        pid = self.filed(**kw)
        made = self.run(
            self.w.staff,
            assignments.assign,
            pid,
            lead_unit_id=self.w.education,
            co_unit_ids=[self.w.transport] if co else [],
            due_date=due_date,
            is_key=key,
            supervising_unit_id=(supervising or self.w.inspection) if key else None,
            lead_leader_id=(leader or self.w.leader) if key else None,
        )
        return pid, made[0].id, (made[1].id if co else None)

    def accepted(self, **kw) -> tuple[int, int, int | None]:
        from workflow import assignments

        pid, lead, co = self.assigned(**kw)
        self.run(self.w.handler_edu, assignments.accept, lead)
        if co:
            self.run(self.w.handler_tr, assignments.accept, co)
        return pid, lead, co

    def merged_into(
        self,
        main: int,
        *,
        analysis: str = SAMPLE_ANALYSIS,
        suggestions: str = SAMPLE_SUGGESTIONS,
    ) -> int:
        """曹磊's proposal on the same matter, submitted and merged (并案) into ``main``; its id."""
        from workflow import proposals

        other = self.run(
            self.w.outsider,
            proposals.create_draft,
            title="关于在学校周边增设接送车辆临时停车位的建议",
            analysis=analysis,
            suggestions=suggestions,
        ).id
        self.run(self.w.outsider, proposals.submit, other)
        self.run(self.w.staff, proposals.merge, other, main)
        return other

    def replied(self, **kw) -> tuple[int, int, int]:
        """Returns (proposal id, lead assignment id, reply id): the reply waits for review,
        the co-handling unit (if any) having countersigned it (会签)."""
        from workflow import countersigns, replies

        pid, lead, co = self.accepted(**kw)
        reply = self.run(self.w.handler_edu, replies.submit_reply, lead, **SAMPLE_REPLY)
        if co:
            self.run(self.w.handler_tr, countersigns.agree, reply.id)
        return pid, lead, reply.id

    def delivered(self, **kw) -> tuple[int, int, int]:
        from workflow import replies

        pid, lead, reply_id = self.replied(**kw)
        self.run(self.w.staff, replies.approve_reply, reply_id)
        return pid, lead, reply_id

    def rated(self, rating="unsatisfied", **kw) -> tuple[int, int, int]:
        from workflow import replies

        pid, lead, reply_id = self.delivered(**kw)
        self.run(self.w.member, replies.rate, pid, work=rating, result=rating)
        return pid, lead, reply_id


SAMPLE_REPLY = dict(
    reply_class="B",
    body=(
        "您提出的关于改善城区小学放学时段交通秩序的建议收悉，现答复如下：\n"
        "一、我局已会同交警部门在五所小学周边试点即停即走车位。\n"
        "二、护学岗排班制度将于下学期在全区推行。"
    ),
    contact_person="高远",
    contact_phone="0839-8620101",
)
