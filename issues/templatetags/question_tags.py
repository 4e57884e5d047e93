"""Staff see the answers to a category's questions and what an integrating system sent."""

from django import template

from ..models import ApiRequest
from ..questions import answer_rows

register = template.Library()


@register.inclusion_tag("issues/staff/_answers.html")
def issue_answers(issue):
    api_request = None
    if issue.source == "api":
        api_request = ApiRequest.objects.filter(issue=issue).select_related("client").first()
    return {"rows": answer_rows(issue), "api_request": api_request}
