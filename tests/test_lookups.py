"""``__one_of``: a list of ids as one query parameter, the same rows as ``__in``."""

import pytest

from grids.models import Grid
from tests.factories import GridFactory


@pytest.mark.django_db
def test_one_of_picks_the_rows_in_the_list_with_one_parameter():
    grids = [GridFactory() for _ in range(4)]
    wanted = [grids[0].pk, grids[2].pk, 10**9]  # and an id no row has
    found = set(Grid.objects.filter(pk__one_of=wanted).values_list("pk", flat=True))
    assert found == set(Grid.objects.filter(pk__in=wanted).values_list("pk", flat=True))
    assert found == {grids[0].pk, grids[2].pk}
    assert not Grid.objects.filter(pk__one_of=[]).exists()
    # However long the list, one parameter (``__in`` has one per value).
    many = list(range(1, 5000))
    _sql, params = Grid.objects.filter(pk__one_of=many).query.sql_with_params()
    assert len(params) == 1
    _sql, params = Grid.objects.filter(pk__in=many).query.sql_with_params()
    assert len(params) == len(many)


@pytest.mark.django_db
def test_one_of_refuses_what_is_not_an_integer():
    with pytest.raises((TypeError, ValueError)):
        list(Grid.objects.filter(pk__one_of=["1; DROP TABLE grids_grid"]))
