"""Load the demo subdistrict (DESIGN.md §7): 龙洞街道 with its communities, grids,
buildings, departments, categories, deadline defaults, demo accounts and issues in every
status and at every level.

Issues are made through ``issues.workflow`` (file, accept, escalate, dispatch, …), so their
history is real and every rule is checked on the way. Then each issue and its events are
moved back in time together, step by step, to when a working subdistrict would have taken
them: the ones in every status within the last days (open ones well inside their deadline),
and about a hundred settled ones spread over the last 90 days with realistic times to
accept and resolve (some late), so the dashboard's durations and weekly trend have
something to show. The spread is drawn from a fixed seed: every fresh load is alike.

Running the command again changes nothing: the territory, people and categories are looked
up by code, username and name, and the issues are created only while the demo subdistrict
has none.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from grids import units
from grids.demo_places import place_demo
from grids.models import Building, Community, Department, Grid, Post, Subdistrict, User
from issues import permissions, rollups, workflow
from issues.models import (
    DEFAULT_RETURN_REASONS,
    DEFAULT_SLA,
    OPEN_STATUSES,
    Category,
    CategoryQuestion,
    Issue,
    IssueEvent,
    Level,
    Notification,
    ReturnReason,
    Satisfaction,
    Severity,
    SlaPolicy,
    Source,
    new_category_code,
)
from participation import registry
from participation.models import Claim, IssuePartner, PartnerUnit, PartyRegistration

PASSWORD = "demo12345"
SUBDISTRICT = {"code": "LD", "name": "龙洞街道"}

# community code → (name, [(grid code, grid name, [(building name, address)])])
COMMUNITIES = {
    "LD-QYC": (
        "全运村社区",
        [
            (
                "LD-QYC-01",
                "全运村第一网格",
                [
                    ("全运村A区1号楼", "经十东路33366号全运村A区1号楼"),
                    ("全运村A区3号楼", "经十东路33366号全运村A区3号楼"),
                    ("全运村A区5号楼", "经十东路33366号全运村A区5号楼"),
                    ("全运村A区商业街", "经十东路33366号全运村A区南门"),
                ],
            ),
            (
                "LD-QYC-02",
                "全运村第二网格",
                [
                    ("全运村B区2号楼", "经十东路33388号全运村B区2号楼"),
                    ("全运村B区6号楼", "经十东路33388号全运村B区6号楼"),
                    ("全运村B区8号楼", "经十东路33388号全运村B区8号楼"),
                ],
            ),
            (
                "LD-QYC-03",
                "全运村第三网格",
                [
                    ("全运村C区1号楼", "凤山路188号全运村C区1号楼"),
                    ("全运村C区4号楼", "凤山路188号全运村C区4号楼"),
                    ("全运村幼儿园", "凤山路190号"),
                ],
            ),
        ],
    ),
    "LD-LD": (
        "龙洞社区",
        [
            (
                "LD-LD-01",
                "龙洞第一网格",
                [
                    ("龙洞新村1号楼", "龙洞路56号龙洞新村1号楼"),
                    ("龙洞新村2号楼", "龙洞路56号龙洞新村2号楼"),
                    ("龙洞农贸市场", "龙洞路62号"),
                ],
            ),
            (
                "LD-LD-02",
                "龙洞第二网格",
                [
                    ("龙洞庄园3号楼", "旅游路17号龙洞庄园3号楼"),
                    ("龙洞庄园7号楼", "旅游路17号龙洞庄园7号楼"),
                    ("龙洞沿街商铺", "旅游路21-35号"),
                ],
            ),
        ],
    ),
    "LD-YSXJ": (
        "燕山新居社区",
        [
            (
                "LD-YSXJ-01",
                "燕山新居第一网格",
                [
                    ("燕山新居1号楼", "经十东路20866号燕山新居1号楼"),
                    ("燕山新居4号楼", "经十东路20866号燕山新居4号楼"),
                    ("燕山新居9号楼", "经十东路20866号燕山新居9号楼"),
                ],
            ),
            (
                "LD-YSXJ-02",
                "燕山新居第二网格",
                [
                    ("燕山新居12号楼", "经十东路20866号燕山新居12号楼"),
                    ("燕山新居15号楼", "经十东路20866号燕山新居15号楼"),
                    ("燕山新居社区服务中心", "经十东路20868号"),
                ],
            ),
        ],
    ),
    "LD-LDJ": (
        "龙鼎社区",
        [
            (
                "LD-LDJ-01",
                "龙鼎第一网格",
                [
                    ("龙鼎大道东苑2号楼", "龙鼎大道1号东苑2号楼"),
                    ("龙鼎大道东苑5号楼", "龙鼎大道1号东苑5号楼"),
                ],
            ),
            (
                "LD-LDJ-02",
                "龙鼎第二网格",
                [
                    ("龙鼎大道西苑1号楼", "龙鼎大道9号西苑1号楼"),
                    ("龙鼎大道西苑3号楼", "龙鼎大道9号西苑3号楼"),
                    ("龙鼎商业广场", "龙鼎大道11号"),
                ],
            ),
        ],
    ),
}

DEPARTMENTS = [
    "城管执法中队",
    "市场监管所",
    "住建办",
    "龙洞派出所",
    "环卫所",
    "司法所",
    "应急管理办",
]

# name → (one-line hint, default severity, default department); sorted as listed.
CATEGORIES = {
    "市容环境": ("乱堆乱放、小广告、绿化损毁、共享单车乱停", Severity.MINOR, "城管执法中队"),
    "道路设施": ("路面破损、井盖松动缺失、路灯不亮、护栏损坏", Severity.MINOR, "住建办"),
    "噪音扰民": ("施工、商铺、广场舞、夜间车辆噪音", Severity.MINOR, "城管执法中队"),
    "邻里纠纷": ("漏水、占用公共空间、宠物等邻里矛盾", Severity.MINOR, "司法所"),
    "安全隐患": ("消防通道堵塞、楼道充电、燃气泄漏、高空坠物", Severity.URGENT, "应急管理办"),
    "占道经营": ("流动摊贩、店外经营、占用人行道", Severity.MINOR, "城管执法中队"),
    "物业管理": ("物业服务、电梯故障、车库渗水、门禁损坏", Severity.MINOR, "住建办"),
    "违章搭建": ("私搭乱建、楼顶加盖、圈占绿地", Severity.DIFFICULT, "城管执法中队"),
    "环境卫生": ("垃圾清运不及时、卫生死角、污水外溢", Severity.MINOR, "环卫所"),
    "市场秩序": ("无证经营、食品安全、价格欺诈", Severity.MINOR, "市场监管所"),
    "治安问题": ("可疑人员、盗窃、醉酒滋事", Severity.URGENT, "龙洞派出所"),
    "其他": ("不属于以上类别的问题", Severity.MINOR, None),
}
# Stable Open311 service codes of the demo categories.
CATEGORY_CODES = {
    "市容环境": "city-appearance",
    "道路设施": "road-facilities",
    "噪音扰民": "noise",
    "邻里纠纷": "neighbour-dispute",
    "安全隐患": "safety-hazard",
    "占道经营": "street-vending",
    "物业管理": "property-management",
    "违章搭建": "illegal-building",
    "环境卫生": "sanitation",
    "市场秩序": "market-order",
    "治安问题": "public-order",
    "其他": "other",
}
# Extra questions (category → [(code, label, datatype, required, choices)]): the road
# category asks which facility, required, so the demo shows Open311 ``metadata: true``.
CATEGORY_QUESTIONS = {
    "道路设施": [
        (
            "facility",
            "哪类设施？",
            "singlevaluelist",
            True,
            "road|路面\ncover|井盖\nlamp|路灯\nrail|护栏",
        ),
        ("since", "从什么时候开始？", "datetime", False, ""),
    ],
    "安全隐患": [("people", "大约影响多少人？", "number", False, "")],
}

# The settled past: issues filed on the days from HISTORY_DAYS ago up to four days ago (the
# last days hold the issues in every status), drawn from RANDOM_SEED.
HISTORY_DAYS = 90
RANDOM_SEED = 1154
# (category, title, description) of the everyday matters the past is made of.
PAST_MATTERS = [
    ("环境卫生", "垃圾桶满溢未清运", "楼下垃圾桶已经满了两天，垃圾散落在地上，气味很大。"),
    ("环境卫生", "楼道堆放杂物", "单元楼道里堆放旧家具和纸箱，影响通行，也有火灾隐患。"),
    ("环境卫生", "雨水井堵塞积水", "下雨后路口雨水井排水不畅，积水没过脚踝。"),
    ("市容环境", "共享单车堵塞路口", "小区门口共享单车乱停，堵住了出入口。"),
    ("市容环境", "墙面小广告", "单元门口和电线杆上贴满办证、开锁小广告。"),
    ("市容环境", "绿化带被踩踏", "楼前绿化带被踩出小路，草皮枯死，泥土外露。"),
    ("道路设施", "路灯不亮", "小区内主路有几盏路灯晚上不亮，行人看不清路。"),
    ("道路设施", "井盖松动", "人行道上的井盖松动，踩上去晃动作响。"),
    ("道路设施", "人行道地砖破损", "人行道地砖碎裂翘起，老人容易绊倒。"),
    ("噪音扰民", "夜间装修噪音", "楼上住户晚上九点以后还在电钻装修，影响休息。"),
    ("噪音扰民", "商铺音箱外放", "沿街商铺门口音箱整天大声播放促销广告。"),
    ("邻里纠纷", "楼上漏水", "楼上住户厨房漏水到我家，沟通多次没有结果。"),
    ("邻里纠纷", "宠物狗夜间吠叫", "邻居家的狗每天夜里吠叫，多次沟通无效。"),
    ("物业管理", "电梯频繁故障", "单元电梯一周内停运三次，老人上下楼困难。"),
    ("物业管理", "单元门禁损坏", "单元门禁刷卡无反应，门一直敞开。"),
    ("占道经营", "流动摊贩占道", "早晚有流动摊贩在人行道上摆摊，行人只能走机动车道。"),
    ("占道经营", "店外摆摊经营", "沿街饭店在门外人行道摆桌经营。"),
    ("市场秩序", "无证经营小作坊", "小区底商有人无证加工熟食，卫生条件差。"),
    ("安全隐患", "楼道飞线充电", "有住户从窗户拉电线给楼下电动车充电。"),
    ("安全隐患", "消防通道被占用", "消防通道长期停放私家车，消防车无法通行。"),
    ("治安问题", "车棚电动车电瓶被盗", "小区车棚连续几晚有电动车电瓶被盗。"),
    ("违章搭建", "楼顶私搭彩钢房", "顶楼住户在楼顶私自搭建彩钢房。"),
    ("违章搭建", "圈占公共绿地", "一楼住户把楼前公共绿地用栅栏圈起来种菜。"),
]
CALLERS = ["王女士", "李先生", "张女士", "刘先生", "陈女士", "杨先生"]
# How long each step takes after the one before, in hours: (shortest, longest).
STEP_HOURS = {
    IssueEvent.Kind.ACCEPTED: (0.2, 6),
    IssueEvent.Kind.ESCALATED: (1, 8),
    IssueEvent.Kind.DISPATCHED: (1, 6),
    IssueEvent.Kind.SUSPENDED: (2, 12),
    IssueEvent.Kind.RESOLVED: (3, 40),
    IssueEvent.Kind.EVALUATED: (2, 30),
    IssueEvent.Kind.REOPENED: (2, 30),
    IssueEvent.Kind.VERIFIED: (2, 20),
    IssueEvent.Kind.REJECTED: (0.5, 6),
    IssueEvent.Kind.DUPLICATE: (0.5, 6),
}


class Command(BaseCommand):
    help = (
        "Load the demo subdistrict 龙洞街道: communities, grids, buildings, departments, "
        "categories, deadline defaults, demo accounts (password demo12345), issues in "
        "every status and 90 days of settled ones. Safe to run again: it changes nothing "
        "the second time."
    )

    def handle(self, *args, **options):
        now = timezone.now()
        created = 0
        with transaction.atomic():
            subdistrict = self._territory()
            self._sla_defaults()
            self._return_reasons()
            self._categories(subdistrict)
            people = self._people(subdistrict)
            self._participants(people)
            if Issue.objects.filter(subdistrict=subdistrict).exists():
                self.stdout.write("Demo issues already present; left unchanged.")
            else:
                rng = random.Random(RANDOM_SEED)
                current = self._issues(subdistrict, people)
                self._backdate_current(current, now=now, rng=rng)
                created = len(current) + self._history(subdistrict, people, now=now, rng=rng)
                # Drawn apart, so the stories above and the past keep their own draws.
                stories = self._volunteer_stories(subdistrict, people)
                self._backdate_current(stories, now=now, rng=random.Random(RANDOM_SEED + 1))
                created += len(stories)
                self.stdout.write(f"Created {created} demo issues through the workflow.")
            place_demo(subdistrict)  # boundaries, building and issue points (grids/demo_places.py)
            if created:
                # Filed through the workflow, then moved back in time: the dashboards'
                # daily rollups are recomputed from the issues as they now are.
                rollups.rebuild()
        if created:
            # The notifications were written as the transaction committed.
            self._read_old_notifications(subdistrict, now=now)
        self._report()

    # --- territory ------------------------------------------------------------------

    def _territory(self) -> Subdistrict:
        subdistrict, _ = Subdistrict.objects.get_or_create(
            code=SUBDISTRICT["code"], defaults={"name": SUBDISTRICT["name"]}
        )
        for community_code, (community_name, grids) in COMMUNITIES.items():
            community, _ = Community.objects.get_or_create(
                code=community_code,
                defaults={"subdistrict": subdistrict, "name": community_name},
            )
            for grid_code, grid_name, buildings in grids:
                grid, _ = Grid.objects.get_or_create(
                    code=grid_code, defaults={"community": community, "name": grid_name}
                )
                for building_name, address in buildings:
                    Building.objects.get_or_create(
                        grid=grid, name=building_name, defaults={"address": address}
                    )
        for name in DEPARTMENTS:
            Department.objects.get_or_create(subdistrict=subdistrict, name=name)
        return subdistrict

    def _sla_defaults(self) -> None:
        # Loaded by migration issues/0002 already; this only fills a gap an admin left.
        for (severity, level), (unit, amount) in DEFAULT_SLA.items():
            SlaPolicy.objects.get_or_create(
                severity=severity, level=level, defaults={"unit": unit, "amount": amount}
            )

    def _return_reasons(self) -> None:
        # Loaded by migration too; this only fills the list if it was emptied.
        if not ReturnReason.objects.exists():
            for order, name in enumerate(DEFAULT_RETURN_REASONS):
                ReturnReason.objects.create(name=name, sort_order=order)

    def _categories(self, subdistrict) -> None:
        departments = {d.name: d for d in Department.objects.filter(subdistrict=subdistrict)}
        for order, (name, (hint, severity, department)) in enumerate(CATEGORIES.items()):
            category, _created = Category.objects.get_or_create(
                name=name,
                defaults={
                    "code": CATEGORY_CODES.get(name) or new_category_code(),
                    "hint": hint,
                    "default_severity": severity,
                    "department": departments.get(department),
                    "sort_order": (order + 1) * 10,
                },
            )
            for position, (code, label, datatype, required, choices) in enumerate(
                CATEGORY_QUESTIONS.get(name, [])
            ):
                CategoryQuestion.objects.get_or_create(
                    category=category,
                    code=code,
                    defaults={
                        "label": label,
                        "datatype": datatype,
                        "required": required,
                        "choices": choices,
                        "order": position + 1,
                    },
                )

    # --- people ---------------------------------------------------------------------

    @cached_property
    def _password_hash(self) -> str:
        """One hash for every demo account: they share the published password, and hashing
        is slow on purpose (most of the command's time when done per account)."""
        return make_password(PASSWORD)

    def _user(self, username, full_name, phone="", **extra) -> User:
        """Get or create one person; an existing account is left as it is.

        The whole Chinese name goes in ``first_name``: ``get_full_name()`` joins first and
        last with a space in Western order, which would print 张伟 as "伟 张".
        """
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User.objects.create(
                username=username,
                first_name=full_name,
                phone=phone,
                password=self._password_hash,
                **extra,
            )
        return user

    def _post(self, user, unit, **extra) -> None:
        Post.objects.get_or_create(user=user, **units.post_values(unit), defaults=extra)
        permissions.forget_scope(user)

    def _participants(self, p) -> None:
        """党建引领: the party member's confirmed registration, one waiting for 全运村社区's
        staff, and the community's partner units (红色合伙人)."""
        community = Community.objects.get(code="LD-QYC")
        if not PartyRegistration.objects.filter(user=p["partymember"]).exists():
            registration = registry.register(
                user=p["partymember"], organisation="济南市某局机关第二党支部"
            )
            registry.decide(registration=registration, actor=p["community"], confirm=True)
        if not PartyRegistration.objects.filter(user=p["resident2"]).exists():
            registry.register(user=p["resident2"], organisation="山东某科技公司党支部")
        for name, contact, phone, offers in [
            (
                "全运村物业服务中心党支部",
                "周建国",
                "0531-88001234",
                "保洁、绿化养护和小型维修，铲车和清运车辆。",
            ),
            (
                "山东某建设集团第三党委",
                "钱伟",
                "0531-88005678",
                "工程技术人员，道路和管线的小修。",
            ),
        ]:
            PartnerUnit.objects.get_or_create(
                community=community,
                name=name,
                defaults={"contact": contact, "phone": phone, "offers": offers},
            )

    def _people(self, subdistrict) -> dict:
        grids = {g.code: g for g in Grid.objects.filter(community__subdistrict=subdistrict)}
        communities = {c.code: c for c in Community.objects.filter(subdistrict=subdistrict)}
        departments = {d.name: d for d in Department.objects.filter(subdistrict=subdistrict)}
        home = Building.objects.get(grid__code="LD-QYC-01", name="全运村A区3号楼")
        neighbour_home = Building.objects.get(grid__code="LD-QYC-01", name="全运村A区5号楼")
        p = {}

        p["admin"] = self._user(
            "admin", "系统管理员", is_staff=True, is_superuser=True, email="admin@grid.example"
        )
        p["resident"] = self._user(
            "resident", "李秀兰", "13953100001", home_building=home, is_party_member=True
        )
        p["resident2"] = self._user(
            "resident2", "王建国", "13953100002", home_building=neighbour_home
        )
        p["resident3"] = self._user(
            "resident3",
            "赵丽娜",
            "13953100003",
            home_building=Building.objects.get(grid__code="LD-LD-01", name="龙洞新村2号楼"),
        )
        p["volunteer"] = self._user(
            "volunteer",
            "陈志强",
            "13953100004",
            home_building=Building.objects.get(grid__code="LD-QYC-01", name="全运村A区1号楼"),
            is_party_member=True,
            is_volunteer=True,
        )
        # 在职党员到社区报到: registered with 全运村社区, confirmed by its staff (below).
        p["partymember"] = self._user(
            "partymember",
            "孙建华",
            "13953100005",
            home_building=Building.objects.get(grid__code="LD-QYC-01", name="全运村A区1号楼"),
            is_party_member=True,
        )

        # Grid workers: the demo one and a part-time colleague on 全运村's first grid, and
        # one full-time worker on every other grid, so every grid has somebody.
        p["gridworker"] = self._user("gridworker", "张伟", "13953100011", is_party_member=True)
        self._post(p["gridworker"], grids["LD-QYC-01"])
        p["gridworker2"] = self._user("gridworker2", "刘芳", "13953100012", is_volunteer=True)
        self._post(p["gridworker2"], grids["LD-QYC-01"], is_full_time=False)
        # (专职 full-time, 兼职 part-time) worker names for the other grids, in code order.
        worker_names = [
            ("孙海燕", "周明"),
            ("吴静", "郑涛"),
            ("冯雪梅", "褚国华"),
            ("卫红", "蒋磊"),
            ("沈洁", "韩冰"),
            ("杨柳", "朱建军"),
            ("秦岭", "许文"),
            ("何平", "吕晓燕"),
        ]
        other_grids = sorted(code for code in grids if code != "LD-QYC-01")
        for number, (code, (full_time, part_time)) in enumerate(
            zip(other_grids, worker_names, strict=True)
        ):
            username = f"worker-{code.lower()}"
            p[username] = self._user(username, full_time, f"139531001{number:02d}")
            self._post(p[username], grids[code])
            # A part-time colleague (often the 楼长), so patrol reports can be verified.
            p[f"{username}-b"] = self._user(
                f"{username}-b", part_time, f"139531002{number:02d}", is_volunteer=True
            )
            self._post(p[f"{username}-b"], grids[code], is_full_time=False)

        p["community"] = self._user("community", "王磊", "13953100031", is_party_member=True)
        self._post(p["community"], communities["LD-QYC"])
        for number, (code, name) in enumerate(
            [("LD-LD", "杨帆"), ("LD-YSXJ", "韩梅"), ("LD-LDJ", "朱军")]
        ):
            username = f"community-{code.lower()}"
            p[username] = self._user(username, name, f"139531000{number + 32:02d}")
            self._post(p[username], communities[code])

        p["subdistrict"] = self._user("subdistrict", "刘洋", "13953100041", is_party_member=True)
        self._post(p["subdistrict"], subdistrict)
        p["subdistrict2"] = self._user("subdistrict2", "何静", "13953100042")
        self._post(p["subdistrict2"], subdistrict)

        p["department"] = self._user("department", "马超", "13953100051")
        self._post(p["department"], departments["城管执法中队"])
        department_staff = {
            "dept-scjg": ("市场监管所", "罗斌"),
            "dept-zjb": ("住建办", "高峰"),
            "dept-pcs": ("龙洞派出所", "林涛"),
            "dept-hws": ("环卫所", "郭红"),
            "dept-sfs": ("司法所", "梁晓"),
            "dept-yjb": ("应急管理办", "宋刚"),
        }
        for number, (username, (department, name)) in enumerate(department_staff.items()):
            p[username] = self._user(username, name, f"139531000{number + 52:02d}")
            self._post(p[username], departments[department])
        return p

    # --- issues ---------------------------------------------------------------------

    def _issues(self, subdistrict, p) -> list[Issue]:
        """A few issues in every status and at every level, as they stand today."""
        cat = {c.name: c for c in Category.objects.all()}
        grids = {g.code: g for g in Grid.objects.filter(community__subdistrict=subdistrict)}
        buildings = {
            b.name: b for b in Building.objects.filter(grid__community__subdistrict=subdistrict)
        }
        departments = {d.name: d for d in Department.objects.filter(subdistrict=subdistrict)}
        resident, resident2, resident3 = p["resident"], p["resident2"], p["resident3"]
        worker, worker2 = p["gridworker"], p["gridworker2"]
        community, sub, dept = p["community"], p["subdistrict"], p["department"]
        wf = workflow
        created = []

        def file(actor, category, title, description, *, source=Source.RESIDENT, **kwargs):
            issue = wf.file_issue(
                actor=actor,
                source=source,
                category=cat[category],
                title=title,
                description=description,
                **kwargs,
            )
            created.append(issue)
            return issue

        def climb_to_subdistrict(issue, grid_worker, community_staff):
            issue = wf.accept(issue=issue, actor=grid_worker)
            issue = wf.escalate(
                issue=issue, actor=grid_worker, reason="网格内无法协调解决，提请社区处置。"
            )
            return wf.escalate(
                issue=issue,
                actor=community_staff,
                reason="涉及执法权限，社区无法处置，提请街道协调职能部门。",
            )

        # 1. 待受理 at the grid: the resident's fresh report.
        streetlight = file(
            resident,
            "道路设施",
            "3号楼东侧路灯不亮",
            "全运村A区3号楼东侧小路的两盏路灯已经一周不亮了，晚上老人孩子出行很不方便。",
            building=buildings["全运村A区3号楼"],
            address="3号楼东侧小路",
        )

        # 2. 处置中 at the grid.
        bikes = file(
            resident2,
            "市容环境",
            "南门共享单车乱停放",
            "全运村A区南门口每天早晚堆满共享单车，堵住了人行道，轮椅和婴儿车过不去。",
            building=buildings["全运村A区商业街"],
            address="A区南门",
        )
        wf.accept(issue=bikes, actor=worker, note="已联系单车运维人员，明早清理。")

        # 3. Escalated to the community, waiting there (待受理 at COMMUNITY).
        garage = file(
            resident,
            "物业管理",
            "地下车库顶板渗水",
            "A区地下车库B2层靠近3号楼出口处顶板渗水，地面积水，已有车辆被滴漏的污水弄脏。",
            building=buildings["全运村A区3号楼"],
        )
        wf.accept(issue=garage, actor=worker)
        wf.escalate(
            issue=garage,
            actor=worker,
            reason="涉及物业公司维修资金使用，需社区召集物业和业委会协调。",
        )

        # 4. 挂起 at the community: a neighbours' dispute paused until one side is back.
        leak = file(
            resident2,
            "邻里纠纷",
            "楼上卫生间漏水至我家天花板",
            "5号楼1单元楼上住户卫生间漏水，我家卫生间天花板发霉掉皮，多次沟通对方不予处理。",
            building=buildings["全运村A区5号楼"],
            address="5号楼1单元",
        )
        wf.accept(issue=leak, actor=worker)
        wf.escalate(issue=leak, actor=worker, reason="双方分歧较大，需社区人民调解委员会调解。")
        wf.accept(issue=leak, actor=community)
        wf.suspend(
            issue=leak,
            actor=community,
            reason="楼上住户在外地出差，下周返回后组织双方现场调解。",
        )

        # 5. A hotline call (12345) that climbed to the subdistrict, waiting there.
        trucks = file(
            community,
            "噪音扰民",
            "夜间渣土车轰鸣扰民",
            "市民来电反映：每晚11点后有渣土车经凤山路驶入工地，鸣笛和轰鸣声严重影响休息。",
            source=Source.HOTLINE,
            grid=grids["LD-QYC-03"],
            address="凤山路与经十东路路口",
            caller_name="王女士",
            caller_phone="13853112345",
        )
        climb_to_subdistrict(trucks, p["worker-ld-qyc-03"], community)

        # 6. Dispatched to 城管执法中队 and accepted there (处置中 at SUBDISTRICT).
        shed = file(
            resident,
            "违章搭建",
            "楼下商户私搭彩钢棚",
            "A区商业街一家餐馆在店外绿地上私自搭建彩钢棚，占用绿地，油烟直排居民楼。",
            building=buildings["全运村A区商业街"],
        )
        climb_to_subdistrict(shed, worker, community)
        wf.dispatch(
            issue=shed,
            actor=sub,
            department=departments["城管执法中队"],
            note="请城管执法中队依法核查处置，3日内反馈。",
        )
        wf.accept(issue=shed, actor=dept, note="已安排执法人员现场勘查。")

        # 7. Dispatched, not yet accepted by the department.
        stalls = file(
            resident3,
            "占道经营",
            "农贸市场外流动摊贩占道",
            "龙洞农贸市场东门外早市摊贩占满非机动车道，早高峰电动车只能走机动车道，很危险。",
            building=buildings["龙洞农贸市场"],
        )
        climb_to_subdistrict(stalls, p["worker-ld-ld-01"], p["community-ld-ld"])
        wf.dispatch(issue=stalls, actor=sub, department=departments["城管执法中队"])

        # 8. 已办结, waiting for the resident's evaluation.
        door = file(
            resident,
            "物业管理",
            "单元门门禁损坏",
            "3号楼2单元门禁刷卡没反应，单元门一直敞开，陌生人随意进出。",
            building=buildings["全运村A区3号楼"],
            address="3号楼2单元",
        )
        wf.accept(issue=door, actor=worker)
        wf.resolve(issue=door, actor=worker, note="已督促物业更换门禁控制器，现已恢复正常。")

        # 9. 已结案, satisfied.
        trash = file(
            resident,
            "环境卫生",
            "垃圾桶满溢无人清运",
            "A区1号楼北侧垃圾桶连续两天没有清运，气味很大。",
            building=buildings["全运村A区1号楼"],
        )
        wf.accept(issue=trash, actor=worker)
        wf.resolve(issue=trash, actor=worker, note="已联系环卫所当天清运，并调整为每日两次清运。")
        wf.evaluate(issue=trash, actor=resident, satisfaction=Satisfaction.SATISFIED)

        # 10. 已结案 at the subdistrict after a department fixed it, basically satisfied.
        manhole = file(
            resident2,
            "道路设施",
            "小区主路井盖破损",
            "B区2号楼前主路雨水井盖破裂，已经有电动车在这里摔倒。",
            building=buildings["全运村B区2号楼"],
        )
        climb_to_subdistrict(manhole, p["worker-ld-qyc-02"], community)
        wf.dispatch(issue=manhole, actor=sub, department=departments["住建办"])
        wf.accept(issue=manhole, actor=p["dept-zjb"])
        wf.resolve(issue=manhole, actor=p["dept-zjb"], note="已更换为防沉降球墨铸铁井盖。")
        wf.evaluate(
            issue=manhole,
            actor=resident2,
            satisfaction=Satisfaction.BASICALLY_SATISFIED,
            reason="修好了，但拖了好几天。",
        )

        # 11. Found on patrol, fixed, verified by a colleague and closed (巡查发现).
        fitness = file(
            worker,
            "安全隐患",
            "健身器材螺丝松动",
            "巡查发现A区小广场漫步机扶手螺丝松动，存在夹伤隐患，已拉警戒带。",
            source=Source.PATROL,
            grid=grids["LD-QYC-01"],
            address="A区小广场",
        )
        wf.accept(issue=fitness, actor=worker, severity=Severity.MINOR)
        wf.resolve(issue=fitness, actor=worker, note="已联系物业维修工紧固全部螺丝。")
        wf.verify(issue=fitness, actor=worker2, note="复查确认器材牢固，可正常使用。")

        # 12. A patrol report resolved, waiting for a colleague to verify it.
        ads = file(
            worker2,
            "市容环境",
            "楼道小广告乱贴",
            "巡查发现A区5号楼各单元楼道墙面贴满开锁、疏通小广告。",
            source=Source.PATROL,
            building=buildings["全运村A区5号楼"],
        )
        wf.accept(issue=ads, actor=worker2)
        wf.resolve(issue=ads, actor=worker2, note="已组织志愿者清理完毕。")

        # 13. 不予受理 as a duplicate of the first report.
        duplicate = file(
            resident2,
            "道路设施",
            "3号楼旁边路灯坏了",
            "3号楼旁边的路灯晚上不亮。",
            building=buildings["全运村A区3号楼"],
        )
        wf.reject(issue=duplicate, actor=worker, duplicate_of=streetlight)

        # 14. 不予受理 with a reason.
        advice = file(
            resident3,
            "其他",
            "咨询社保卡补办",
            "请问社保卡丢了在哪里补办？",
            building=buildings["龙洞新村2号楼"],
        )
        wf.reject(
            issue=advice,
            actor=p["worker-ld-ld-01"],
            reason="属于政策咨询，不是网格事件；已电话告知可到街道便民服务中心办理。",
        )

        # 15. Dissatisfied: reopened and being handled again (不满意重办).
        dance = file(
            resident,
            "噪音扰民",
            "广场舞音响声音太大",
            "每晚7点到9点半A区小广场广场舞音响音量很大，家里孩子无法写作业。",
            building=buildings["全运村A区3号楼"],
            address="A区小广场",
        )
        wf.accept(issue=dance, actor=worker)
        wf.resolve(issue=dance, actor=worker, note="已与广场舞队负责人沟通，承诺降低音量。")
        wf.evaluate(
            issue=dance,
            actor=resident,
            satisfaction=Satisfaction.DISSATISFIED,
            reason="只安静了两天，晚上9点以后仍然很吵。",
        )

        # 16. Urgent matter accepted at the community level (处置中 at COMMUNITY).
        corridor = file(
            p["volunteer"],
            "安全隐患",
            "楼道内电动车充电",
            "燕山新居4号楼3单元多户居民把电动车推进楼道飞线充电，堵塞消防通道。",
            source=Source.VOLUNTEER,
            building=buildings["燕山新居4号楼"],
        )
        wf.accept(issue=corridor, actor=p["worker-ld-ysxj-01"])
        wf.escalate(
            issue=corridor,
            actor=p["worker-ld-ysxj-01"],
            reason="急事：涉及多户，需社区联合物业集中整治。",
        )
        wf.accept(issue=corridor, actor=p["community-ld-ysxj"])

        # 17. A few more at other grids, so every worker's queue has something.
        file(
            resident3,
            "市场秩序",
            "早市摊位缺斤短两",
            "龙洞农贸市场早市有摊位电子秤不准，买两斤菜少了三两。",
            building=buildings["龙洞农贸市场"],
        )
        hotline_closed = file(
            sub,
            "环境卫生",
            "西苑北门下水道污水外溢",
            "市民来电：龙鼎大道西苑北门下水道堵塞，污水漫到路面，气味难闻。",
            source=Source.HOTLINE,
            building=buildings["龙鼎大道西苑1号楼"],
            address="西苑北门",
            caller_name="刘先生",
            caller_phone="13668881234",
        )
        wf.accept(issue=hotline_closed, actor=p["worker-ld-ldj-02"])
        wf.resolve(
            issue=hotline_closed,
            actor=p["worker-ld-ldj-02"],
            note="已协调环卫所疏通管道并冲洗路面。",
        )
        wf.callback(
            issue=hotline_closed,
            actor=p["community-ld-ldj"],
            outcome=Satisfaction.SATISFIED,
            said="来电人表示管道已通，路面也冲洗干净了。",
        )
        hotline_verified = file(
            community,
            "占道经营",
            "商业街餐馆店外摆桌",
            "市民来电：A区商业街烧烤店晚上在人行道摆桌，行人只能走机动车道。",
            source=Source.HOTLINE,
            building=buildings["全运村A区商业街"],
            caller_name="孙先生",
            caller_phone="13705310001",
        )
        wf.accept(issue=hotline_verified, actor=worker2)
        wf.resolve(
            issue=hotline_verified, actor=worker2, note="已劝导店主收回桌椅，签订门前三包责任书。"
        )
        # Nobody answered the call-backs (回访), so the grid verified it on the spot.
        for _try in range(settings.CALLBACK_TRIES):
            wf.callback(
                issue=hotline_verified, actor=community, outcome=wf.UNREACHABLE, said="无人接听"
            )
        wf.verify(issue=hotline_verified, actor=worker, note="夜间复查，人行道已畅通。")
        # 18. The closed loop. A wrong dispatch returned (退单), then handled jointly (联办):
        # the lead department waits for its co-handler's sub-task.
        drain = file(
            resident3,
            "环境卫生",
            "农贸市场东侧雨水管网堵塞",
            "龙洞农贸市场东侧雨水井被油污和垃圾堵死，一下雨就漫到市场里，摊位进水。",
            building=buildings["龙洞农贸市场"],
        )
        climb_to_subdistrict(drain, p["worker-ld-ld-01"], p["community-ld-ld"])
        wf.dispatch(issue=drain, actor=sub, department=departments["市场监管所"])
        wf.return_dispatch(
            issue=drain,
            actor=p["dept-scjg"],
            reason=ReturnReason.objects.order_by("sort_order").first(),
            note="雨水管网养护不属于市场监管职责，建议由环卫所牵头、城管配合。",
        )
        wf.dispatch_joint(
            issue=drain,
            actor=sub,
            lead=departments["环卫所"],
            co_handlers=[departments["城管执法中队"]],
            instruction="环卫所疏通管网并清运垃圾；城管执法中队查处向雨水井倾倒油污的商户。",
            message="已派环卫所牵头、城管执法中队配合联合处置。",
        )
        wf.accept(issue=drain, actor=p["dept-hws"])
        (task,) = drain.tasks.filter(department=departments["城管执法中队"])
        wf.complete_task(
            issue=drain, actor=dept, task=task, note="已对两家倾倒油污的商户立案并责令整改。"
        )

        # 19. A department asks for more time (延期申请), waiting for the subdistrict.
        wall = file(
            resident,
            "违章搭建",
            "B区8号楼一楼住户圈占公共绿地",
            "B区8号楼一楼住户用铁栅栏圈占楼前公共绿地约三十平方米，种菜养鸡。",
            building=buildings["全运村B区8号楼"],
        )
        climb_to_subdistrict(wall, p["worker-ld-qyc-02"], community)
        wf.dispatch(issue=wall, actor=sub, department=departments["城管执法中队"])
        wf.accept(issue=wall, actor=dept, note="已下达限期整改通知书。")
        wf.request_extension(
            issue=wall,
            actor=dept,
            until=timezone.localdate() + timedelta(days=20),
            reason="当事人申请行政复议，须待复议期满后依法强制拆除。",
        )

        # 20. A hotline report resolved, waiting for its caller to be called back (待回访).
        noise = file(
            p["community-ld-ysxj"],
            "噪音扰民",
            "夜间渣土车噪音扰民",
            "市民来电：每晚11点后渣土车经过燕山新居南侧道路，鸣笛、颠簸声很大。",
            source=Source.HOTLINE,
            building=buildings["燕山新居4号楼"],
            caller_name="赵女士",
            caller_phone="13853108888",
        )
        wf.accept(issue=noise, actor=p["worker-ld-ysxj-01"])
        wf.resolve(
            issue=noise,
            actor=p["worker-ld-ysxj-01"],
            note="已联系渣土运输公司调整线路，夜间禁止鸣笛，并在路口增设减速提示牌。",
        )

        # 21. Supervised with words (督办): the subdistrict presses a slow community.
        lift = file(
            resident2,
            "物业管理",
            "A区5号楼电梯频繁故障",
            "A区5号楼2单元电梯一个月内停了四次，楼上老人出行困难。",
            building=buildings["全运村A区3号楼"],
        )
        wf.accept(issue=lift, actor=worker2)
        wf.escalate(issue=lift, actor=worker2, reason="需社区督促物业申请维修资金。")
        wf.accept(issue=lift, actor=community)
        wf.supervise_note(
            issue=lift,
            actor=sub,
            note="群众反映强烈，请社区本周内约谈物业，拿出维修方案并报街道。",
            until=timezone.localdate() + timedelta(days=5),
        )

        # Fresh patrol reports, so every grid worker's queue has something to accept.
        patrol_findings = [
            (
                "LD-QYC-02",
                "环境卫生",
                "绿化带内倾倒装修垃圾",
                "B区6号楼西侧绿化带内有人倾倒装修垃圾，约两立方米。",
            ),
            (
                "LD-LD-02",
                "占道经营",
                "沿街商铺占道堆放货物",
                "龙洞沿街商铺多家店外堆放货物，占用盲道。",
            ),
            (
                "LD-YSXJ-02",
                "道路设施",
                "人行道地砖松动",
                "燕山新居12号楼前人行道十余块地砖松动翘起。",
            ),
            (
                "LD-LDJ-01",
                "安全隐患",
                "消防通道被私家车占用",
                "东苑5号楼北侧消防通道长期停放私家车。",
            ),
        ]
        for code, category, title, description in patrol_findings:
            file(
                p[f"worker-{code.lower()}"],
                category,
                title,
                "巡查发现：" + description,
                source=Source.PATROL,
                grid=grids[code],
            )
        return created

    def _volunteer_stories(self, subdistrict, p) -> list[Issue]:
        """Party members and volunteers at work in 全运村第一网格: a small matter open to
        them, an offer waiting for the grid worker, one helper at work, one matter settled
        with a volunteer's help and confirmed hours, and one with a partner unit."""
        wf = workflow
        categories = {c.name: c for c in Category.objects.all()}
        buildings = {
            b.name: b for b in Building.objects.filter(grid__community__subdistrict=subdistrict)
        }
        created = []

        def file(actor, category, title, description, **kwargs):
            issue = wf.file_issue(
                actor=actor,
                source=Source.RESIDENT,
                category=categories[category],
                title=title,
                description=description,
                **kwargs,
            )
            created.append(issue)
            return issue

        worker, volunteer, member = p["gridworker"], p["volunteer"], p["partymember"]
        litter = file(
            p["resident2"],
            "环境卫生",
            "小区绿地白色垃圾较多",
            "全运村A区中心绿地草丛里塑料袋、饮料瓶很多，风一吹到处都是。",
            building=buildings["全运村A区5号楼"],
        )
        wf.accept(issue=litter, actor=worker)
        wf.open_to_volunteers(
            issue=litter, actor=worker, note="欢迎志愿者周末一起捡拾绿地垃圾，工具由网格提供。"
        )
        ads = file(
            p["resident"],
            "市容环境",
            "楼道小广告需清理",
            "全运村A区3号楼2单元楼道墙面贴满开锁、疏通小广告。",
            building=buildings["全运村A区3号楼"],
        )
        wf.accept(issue=ads, actor=worker)
        wf.open_to_volunteers(issue=ads, actor=worker, note="需要一两位志愿者帮忙铲除小广告。")
        wf.claim(issue=ads, actor=member, offer="周日上午有空，可以带铲刀来。")

        door = file(
            p["resident"],
            "道路设施",
            "单元门禁闭门器松动",
            "全运村A区1号楼1单元门的闭门器松了，门关不严。",
            building=buildings["全运村A区1号楼"],
        )
        wf.accept(issue=door, actor=worker)
        wf.open_to_volunteers(issue=door, actor=worker, note="需要会简单维修的志愿者。")
        wf.claim(issue=door, actor=volunteer, offer="我家有工具，可以先紧一紧螺丝。")
        wf.accept_claim(
            issue=door,
            actor=worker,
            claim=Claim.objects.get(issue=door, helper=volunteer),
            note="先临时加固，配件到了再换。",
        )
        wf.helper_note(issue=door, actor=volunteer, note="已紧固螺丝，门能关上了，闭门器需更换。")

        fitness = file(
            p["resident"],
            "道路设施",
            "健身器材螺丝松动",
            "全运村A区南侧健身广场的太空漫步机螺丝松动，晃得厉害。",
            building=buildings["全运村A区商业街"],
        )
        wf.accept(issue=fitness, actor=worker)
        wf.open_to_volunteers(issue=fitness, actor=worker, note="请志愿者协助检查全部器材。")
        wf.claim(issue=fitness, actor=volunteer, offer="下午可以来。")
        helping = Claim.objects.get(issue=fitness, helper=volunteer)
        wf.accept_claim(issue=fitness, actor=worker, claim=helping, note="和物业维修工一起检查。")
        wf.helper_note(
            issue=fitness,
            actor=volunteer,
            note="和物业一起检查了8件器材，紧固了3处螺丝，其余完好。",
            done=True,
        )
        wf.confirm_hours(issue=fitness, actor=worker, claim=helping, hours=Decimal("2.5"))
        wf.resolve(issue=fitness, actor=worker, note="器材已全部检查加固。")
        wf.evaluate(issue=fitness, actor=p["resident"], satisfaction=Satisfaction.SATISFIED)

        ground = file(
            p["resident2"],
            "环境卫生",
            "南侧空地建筑垃圾需清运",
            "全运村A区南侧空地堆着拆下的旧地砖和渣土，约五立方米。",
            building=buildings["全运村A区商业街"],
        )
        wf.accept(issue=ground, actor=worker)
        wf.escalate(issue=ground, actor=worker, reason="需要车辆清运，网格无法处置。")
        wf.accept(issue=ground, actor=p["community"])
        wf.add_partner(
            issue=ground,
            actor=p["community"],
            partner=PartnerUnit.objects.get(name="全运村物业服务中心党支部"),
            note="物业服务中心党支部派铲车和清运车协助。",
        )
        wf.resolve(issue=ground, actor=p["community"], note="建筑垃圾已全部清运，空地已平整。")
        wf.evaluate(issue=ground, actor=p["resident2"], satisfaction=Satisfaction.SATISFIED)
        return created

    # --- the past -------------------------------------------------------------------

    def _history(self, subdistrict, p, *, now: datetime, rng: random.Random) -> int:
        """Settled issues, about one a day over the last HISTORY_DAYS days up to a few ago:
        most settled in the grid, some climbing to the community or, dispatched, to a
        department; a few rejected, a few reopened after a dissatisfied evaluation."""
        categories = {c.name: c for c in Category.objects.all()}
        grids = list(Grid.objects.filter(community__subdistrict=subdistrict).order_by("code"))
        buildings: dict = {}
        for building in Building.objects.filter(grid__in=grids).order_by("pk"):
            buildings.setdefault(building.grid_id, []).append(building)
        staff = self._staff_by_unit(subdistrict)
        residents = [p["resident"], p["resident2"], p["resident3"], p["volunteer"]]
        subdistrict_staff = p["subdistrict"]
        count = 0
        for days_ago in range(HISTORY_DAYS - 1, 3, -1):
            for _ in range(rng.choice((0, 1, 1, 1, 2, 2))):
                name, title, description = rng.choice(PAST_MATTERS)
                category = categories[name]
                filed_at = timezone.localtime(now - timedelta(days=days_ago)).replace(
                    hour=rng.randint(7, 20), minute=rng.randint(0, 59)
                )
                # A third were found on patrol, a sixth came in by the hotline.
                source = rng.choice([Source.RESIDENT] * 3 + [Source.PATROL] * 2 + [Source.HOTLINE])
                if source == Source.RESIDENT:
                    reporter = rng.choice(residents)
                    grid = reporter.home_building.grid
                    if reporter.is_volunteer:
                        source = Source.VOLUNTEER
                else:
                    grid = rng.choice(grids)
                workers = staff[("grid", grid.pk)]
                caller = {}
                if source == Source.PATROL:
                    reporter = workers[0]
                elif source == Source.HOTLINE:
                    reporter = staff[("community", grid.community_id)][0]
                    caller = {
                        "caller_name": rng.choice(CALLERS),
                        "caller_phone": f"1385311{rng.randint(0, 9999):04d}",
                    }
                issue = workflow.file_issue(
                    actor=reporter,
                    source=source,
                    category=category,
                    title=title,
                    description=description,
                    building=rng.choice(buildings[grid.pk]),
                    **caller,
                )
                self._settle(
                    issue,
                    rng=rng,
                    workers=workers,
                    community_staff=staff[("community", grid.community_id)],
                    subdistrict_staff=subdistrict_staff,
                    department_staff=staff,
                )
                times = self._steps(issue, start=filed_at, rng=rng, late=0.15)
                if times[-1] > now - timedelta(hours=2):  # a recent one: its story is shorter
                    scale = (now - timedelta(hours=2) - filed_at) / (times[-1] - filed_at)
                    times = [filed_at + (at - filed_at) * scale for at in times]
                self._backdate(issue, times)
                count += 1
        return count

    def _settle(self, issue, *, rng, workers, community_staff, subdistrict_staff, department_staff):
        """Take one filed issue to its end through the workflow, by the people whose job it
        is; where it ends is drawn, weighted by what the slogan expects of its severity."""
        wf = workflow
        if rng.random() < 0.08:
            wf.reject(
                issue=issue,
                actor=workers[0],
                reason="经核实不属于网格事件受理范围，已告知反映人咨询渠道。",
            )
            return
        climb = {
            Severity.MINOR: rng.choice([0] * 8 + [1, 2]),
            Severity.URGENT: rng.choice([0, 0, 1, 1, 1, 2]),
            Severity.DIFFICULT: rng.choice([1, 2, 2, 2]),
        }[issue.severity]
        if not issue.has_resident_reporter:
            climb = 0  # a patrol or hotline matter is verified by a grid colleague
        handler = workers[0]
        issue = wf.accept(issue=issue, actor=handler)
        if climb >= 1:
            issue = wf.escalate(issue=issue, actor=handler, reason="需社区协调相关单位处置。")
            handler = community_staff[0]
            issue = wf.accept(issue=issue, actor=handler)
        if climb == 2:
            issue = wf.escalate(issue=issue, actor=handler, reason="涉及执法权限，提请街道派单。")
            department = issue.category.department
            issue = wf.dispatch(issue=issue, actor=subdistrict_staff, department=department)
            handler = department_staff[("department", department.pk)][0]
            issue = wf.accept(issue=issue, actor=handler)
        issue = wf.resolve(issue=issue, actor=handler, note="已现场处置完毕。")
        if permissions.is_called_back(issue):
            # 回访: the community asks the caller; most are satisfied.
            wf.callback(
                issue=issue,
                actor=community_staff[0],
                outcome=rng.choice(
                    [Satisfaction.SATISFIED] * 4 + [Satisfaction.BASICALLY_SATISFIED]
                ),
                said="来电人对处理结果认可。",
            )
            return
        if not issue.has_resident_reporter:
            wf.verify(issue=issue, actor=workers[1], note="复查属实，已处置到位。")
            return
        if rng.random() < 0.07:
            issue = wf.evaluate(
                issue=issue,
                actor=issue.reporter,
                satisfaction=Satisfaction.DISSATISFIED,
                reason="问题没有彻底解决。",
            )
            issue = wf.resolve(issue=issue, actor=handler, note="已再次处置，并回访确认。")
        satisfaction = rng.choice([Satisfaction.SATISFIED] * 4 + [Satisfaction.BASICALLY_SATISFIED])
        wf.evaluate(issue=issue, actor=issue.reporter, satisfaction=satisfaction)

    def _staff_by_unit(self, subdistrict) -> dict:
        """{(unit kind, unit id): [users]}, full-time staff first."""
        staff: dict = {}
        posts = (
            Post.objects.select_related("user")
            .filter(
                Q(grid__community__subdistrict=subdistrict)
                | Q(community__subdistrict=subdistrict)
                | Q(department__subdistrict=subdistrict)
            )
            .order_by("-is_full_time", "user__username")
        )
        for post in posts:
            for kind in ("grid", "community", "department"):
                unit_id = getattr(post, f"{kind}_id")
                if unit_id is not None:
                    staff.setdefault((kind, unit_id), []).append(post.user)
        return staff

    # --- time ------------------------------------------------------------------------

    def _backdate_current(self, issues, *, now: datetime, rng: random.Random) -> None:
        """The issues in every status happened within the last days: the settled ones a day
        or a few ago; the open ones recently enough to be well inside their deadline."""
        sla = SlaPolicy.table()
        for issue in issues:
            issue.refresh_from_db()
            if issue.duplicate_of_id:
                # Reported again after the original, and marked at once.
                original = Issue.objects.get(pk=issue.duplicate_of_id)
                window = now - original.created_at
                times = [original.created_at + window * f for f in (0.5, 0.8)]
            elif issue.status in OPEN_STATUSES:
                # The whole story fits in a third of the current level's deadline.
                budget = sla[(issue.severity, issue.level)].rough.total_seconds() / 3600 / 3
                steps = self._steps(issue, start=now, rng=rng)
                span = (steps[-1] - steps[0]).total_seconds() / 3600 + budget / 10
                scale = min(1, budget / span)
                end = now - timedelta(hours=budget / 10)
                times = [end - (steps[-1] - at) * scale for at in steps]
            else:
                end = now - timedelta(hours=rng.uniform(6, 96))
                steps = self._steps(issue, start=now, rng=rng)
                times = [end - (steps[-1] - at) for at in steps]
            self._backdate(issue, times)

    def _steps(self, issue, *, start: datetime, rng: random.Random, late: float = 0) -> list:
        """When each of the issue's events would have happened, the first at ``start``: a
        plausible time for each step, and with chance ``late`` a resolution past the
        deadline."""
        times = [start]
        deadline = SlaPolicy.table()[(issue.severity, issue.level)].rough
        deadline_hours = deadline.total_seconds() / 3600
        for kind in issue.events.order_by("id").values_list("kind", flat=True)[1:]:
            shortest, longest = STEP_HOURS.get(kind, (1, 4))
            if kind == IssueEvent.Kind.ACCEPTED and issue.severity == Severity.URGENT:
                longest = 1.5  # urgent matters are taken up within the grid's two hours
            hours = rng.triangular(shortest, longest, shortest + (longest - shortest) / 4)
            if kind == IssueEvent.Kind.RESOLVED and rng.random() < late:
                hours += deadline_hours
            times.append(times[-1] + timedelta(hours=hours))
        return times

    def _backdate(self, issue, times: list) -> None:
        """Move an issue and its events back in time together: event i to ``times[i]``, and
        every timestamp of the issue to the time of the event that set it (a deadline moves
        with the arrival at its level)."""
        events = list(issue.events.order_by("id"))
        moved = {event.created_at: at for event, at in zip(events, times, strict=True)}
        for event, at in zip(events, times, strict=True):
            event.created_at = at
        IssueEvent.objects.bulk_update(events, ["created_at"])
        issue = Issue.objects.get(pk=issue.pk)
        values = {
            name: moved[getattr(issue, name)]
            for name in (
                "created_at",
                "accepted_at",
                "dispatched_at",
                "resolved_at",
                "closed_at",
                "level_entered_at",
                "suspended_at",
                "supervised_at",
            )
            if getattr(issue, name) is not None
        }
        # The deadlines as the clock would have set them then (working days included); a
        # date a person set (督办 with a new deadline) stays that date.
        set_by_hand = issue.events.filter(
            kind__in=[IssueEvent.Kind.SUPERVISION_NOTE, IssueEvent.Kind.EXTENSION_APPROVED]
        ).exists()
        if not set_by_hand:
            values["due_at"] = workflow.due_after(
                severity=issue.severity, level=issue.level, start=values["level_entered_at"]
            )
        values["response_due_at"] = workflow.due_after(
            severity=issue.severity, level=Level.GRID, start=values["created_at"]
        )
        values["updated_at"] = times[-1]
        Issue.objects.filter(pk=issue.pk).update(**values)
        # Sub-tasks of a joint dispatch move with it: made and finished with their events,
        # due with the issue.
        for task in issue.tasks.all():
            task.created_at = moved.get(task.created_at, task.created_at)
            task.finished_at = moved.get(task.finished_at, task.finished_at)
            if task.due_at == issue.due_at:
                task.due_at = values.get("due_at", issue.due_at)
            task.save(update_fields=["created_at", "finished_at", "due_at"])
        # Offers of help and partner units too, with the events that wrote them.
        for claim in Claim.objects.filter(issue=issue):
            for name in ("created_at", "decided_at", "done_at", "hours_confirmed_at"):
                setattr(claim, name, moved.get(getattr(claim, name), getattr(claim, name)))
            claim.save(update_fields=["created_at", "decided_at", "done_at", "hours_confirmed_at"])
        for link in IssuePartner.objects.filter(issue=issue):
            link.added_at = moved.get(link.added_at, link.added_at)
            link.save(update_fields=["added_at"])

    def _read_old_notifications(self, subdistrict, *, now: datetime) -> None:
        """The people have read what reached them before the last two days."""
        Notification.objects.filter(
            issue__subdistrict=subdistrict, created_at__lt=now - timedelta(days=2)
        ).update(is_read=True)

    # --- report ---------------------------------------------------------------------

    def _report(self) -> None:
        roles = {
            "admin": "superuser (Django admin)",
            "resident": "resident of 全运村社区 · 全运村第一网格",
            "gridworker": "grid worker on 全运村第一网格",
            "community": "community staff of 全运村社区",
            "volunteer": "volunteer in 全运村社区 · 全运村第一网格",
            "partymember": "party member registered with 全运村社区",
            "subdistrict": "subdistrict staff of 龙洞街道",
            "department": "department staff of 城管执法中队",
        }
        self.stdout.write(self.style.SUCCESS("Demo subdistrict 龙洞街道 is ready."))
        self.stdout.write("Demo accounts:")
        for username, role in roles.items():
            self.stdout.write(f"  {username:<12} {role}")
        self.stdout.write(f"Password for every demo account: {PASSWORD}")
