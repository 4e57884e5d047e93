from django.utils import timezone

from issues import workflow
from issues.models import IssueEvent, Level, Source, Status
from issues.tracking import has_valid_check_digit


def test_file_accept_escalate_dispatch_resolve_evaluate(territory, people):
    t, p = territory, people
    issue = workflow.file_issue(
        actor=p.resident,
        source=Source.RESIDENT,
        category=t.category,
        title="路灯坏了",
        description="3号楼前路灯不亮",
        building=p.resident.home_building,
    )
    assert issue.tracking_number.startswith(f"{timezone.localdate():%Y%m%d}")
    assert len(issue.tracking_number) == 16 and has_valid_check_digit(issue.tracking_number)
    issue = workflow.accept(issue=issue, actor=p.worker)
    issue = workflow.escalate(issue=issue, actor=p.worker, reason="需要社区协调")
    issue = workflow.escalate(issue=issue, actor=p.community_staff, reason="需要街道")
    assert issue.level == Level.SUBDISTRICT
    issue = workflow.dispatch(issue=issue, actor=p.subdistrict_staff, department=t.department)
    issue = workflow.accept(issue=issue, actor=p.department_staff)
    issue = workflow.resolve(issue=issue, actor=p.department_staff, note="已修好")
    issue = workflow.evaluate(issue=issue, actor=p.resident, satisfaction="satisfied")
    assert issue.status == Status.CLOSED
    assert IssueEvent.objects.filter(issue=issue).count() == 8
