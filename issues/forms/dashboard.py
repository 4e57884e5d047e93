"""The dashboard's filters: input validation only; the figures live in issues.stats."""

from datetime import date, timedelta

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config.widgets import PlainSelect

from ..models import Severity, Source
from ..stats import Filters

# A wider period is a report for the archive, not a dashboard; it would also scan years of
# issues on every page view.
MAX_PERIOD_DAYS = 3 * 366
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class FilterPanel:
    """A form drawn by the dashboards' filter panel (issues/dashboard/_filters.html): its
    ``ROWS`` name each field with the columns it takes."""

    ROWS: tuple = ()

    def rows(self):
        return [[(self[name], columns) for name, columns in row] for row in self.ROWS]


class DashboardFilterForm(FilterPanel, forms.Form):
    """Period, category, severity, source and the recurrence rule, read from the query
    string. Missing fields take their defaults: the last 30 days, everything, and the
    recurrence rule from settings (RECURRENCE_MIN_COUNT, RECURRENCE_DAYS)."""

    start = forms.DateField(
        label=_("From"),
        widget=DateInput(),
        help_text=_("The figures count the issues filed in this period (by filing date)."),
    )
    end = forms.DateField(label=_("To"), widget=DateInput())
    category = forms.TypedChoiceField(
        label=_("Category"), required=False, coerce=int, empty_value=None
    )
    severity = forms.ChoiceField(
        label=_("Severity"), required=False, choices=[("", _("All"))] + Severity.choices
    )
    source = forms.ChoiceField(
        label=_("Source"), required=False, choices=[("", _("All"))] + Source.choices
    )
    recurrence_count = forms.IntegerField(
        label=_("Recurrence: at least N issues"),
        min_value=2,
        max_value=1000,
        help_text=_("A grid is flagged when one category is filed at least this many times…"),
    )
    recurrence_days = forms.IntegerField(
        label=_("…within M days"),
        min_value=1,
        max_value=366,
        help_text=_("…within this many days up to the end of the period."),
    )

    FIELDS = (
        "start",
        "end",
        "category",
        "severity",
        "source",
        "recurrence_count",
        "recurrence_days",
    )

    def __init__(self, query, *, categories, today: date | None = None, **kwargs):
        """``query`` is request.GET; ``categories`` a list of (id, name)."""
        self.today = today or timezone.localdate()
        defaults = self.default_values(self.today)
        data = {name: query.get(name, defaults[name]) for name in self.FIELDS}
        super().__init__(data, **kwargs)
        self.fields["category"].choices = [("", _("All"))] + list(categories)
        for name in ("category", "severity", "source"):
            self.fields[name].widget = PlainSelect(choices=self.fields[name].choices)

    ROWS = (
        (
            ("start", "col-6 col-lg-3"),
            ("end", "col-6 col-lg-3"),
            ("category", "col-12 col-sm-6 col-lg-2"),
            ("severity", "col-6 col-lg-2"),
            ("source", "col-6 col-lg-2"),
        ),
        (
            ("recurrence_count", "col-6 col-lg-3"),
            ("recurrence_days", "col-6 col-lg-3"),
        ),
    )

    @staticmethod
    def default_values(today: date) -> dict:
        return {
            "start": (today - timedelta(days=29)).isoformat(),
            "end": today.isoformat(),
            "category": "",
            "severity": "",
            "source": "",
            "recurrence_count": str(settings.RECURRENCE_MIN_COUNT),
            "recurrence_days": str(settings.RECURRENCE_DAYS),
        }

    def _clean_date(self, name):
        value = self.cleaned_data[name]
        if not EARLIEST <= value <= LATEST:
            raise forms.ValidationError(
                _("Choose a date between %(first)s and %(last)s."),
                code="out_of_range",
                params={"first": EARLIEST.isoformat(), "last": LATEST.isoformat()},
            )
        return value

    def clean_start(self):
        return self._clean_date("start")

    def clean_end(self):
        return self._clean_date("end")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end:
            if start > end:
                self.add_error(
                    "end",
                    forms.ValidationError(
                        _("The end of the period cannot be before its start."), code="reversed"
                    ),
                )
            elif (end - start).days + 1 > MAX_PERIOD_DAYS:
                self.add_error(
                    "end",
                    forms.ValidationError(
                        _("Choose a period of at most %(days)s days."),
                        code="too_long",
                        params={"days": MAX_PERIOD_DAYS},
                    ),
                )
        return cleaned

    def filters(self) -> Filters:
        """The filters to show: the valid input, or the defaults when it is not valid."""
        if not self.is_valid():
            return Filters.default(self.today)
        data = self.cleaned_data
        return Filters(
            start=data["start"],
            end=data["end"],
            category_id=data["category"],
            severity=data["severity"],
            source=data["source"],
            recurrence_count=data["recurrence_count"],
            recurrence_days=data["recurrence_days"],
        )

    def query_string(self) -> str:
        """The filters as a query string for links (drill-down, sort, export)."""
        from urllib.parse import urlencode

        if not self.is_valid():
            return ""
        values = {name: self.data[name] for name in self.FIELDS if self.data.get(name)}
        return urlencode(values)


PERIOD_CHOICES = [
    (30, _("Last 30 days")),
    (90, _("Last 90 days")),
    (365, _("Last 365 days")),
]


class PublicFilterForm(FilterPanel, forms.Form):
    """The public page: which subdistrict and which period; nothing else."""

    subdistrict = forms.TypedChoiceField(label=_("Subdistrict"), coerce=int)
    period = forms.TypedChoiceField(
        label=_("Period"), coerce=int, choices=PERIOD_CHOICES, initial=30
    )

    def __init__(self, query, *, subdistricts, **kwargs):
        """``subdistricts`` a list of (id, name); the first is the default."""
        data = {
            "subdistrict": query.get("subdistrict", subdistricts[0][0] if subdistricts else ""),
            "period": query.get("period", "30"),
        }
        super().__init__(data, **kwargs)
        self.fields["subdistrict"].choices = list(subdistricts)
        if len(subdistricts) < 2:
            self.fields["subdistrict"].widget = forms.HiddenInput()
        else:
            self.fields["subdistrict"].widget = PlainSelect(
                choices=self.fields["subdistrict"].choices
            )
        self.fields["period"].widget = PlainSelect(choices=self.fields["period"].choices)

    ROWS = ((("subdistrict", "col-12 col-sm-6"), ("period", "col-12 col-sm-6")),)
