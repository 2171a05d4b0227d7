"""Territory import: values the columns cannot hold refused with a located error, nothing written, and the
accounts lists and the API read back for every role afterwards (issue 12, items 6 and 13)."""

from __future__ import annotations

import pytest

from tests.web.readback import HOSTILE_INTEGERS, LONG_TEXT, NUL_TEXT, read_back, users_by_role
from tremplin.web.accounts.models import Territory
from tremplin.web.accounts.services import territories_import_csv

pytestmark = pytest.mark.django_db

HEADER = "code,name,level,parent_code,population\n"


@pytest.mark.parametrize(("row", "column"), [
    *[(f"FR,France,country,,{value}", "population") for value in (*HOSTILE_INTEGERS, "1e30", "12.5")],
    (f'FR,"{LONG_TEXT}",country,,', "name"), (f'FR,"{NUL_TEXT}",country,,', "name"),
    (f'"{NUL_TEXT}",France,country,,', "code"), ("FR,France,continent,,", "level"),
])
def test_hostile_rows_are_located_and_nothing_is_written(make_user, client, row, column):
    users = users_by_role(make_user)
    before = list(Territory.objects.values_list("code", "name", "population"))
    report = territories_import_csv(content=(HEADER + "BE,Belgique,country,,11800000\n" + row + "\n").encode())
    assert [(e.line, e.column) for e in report.errors] == [(3, column)], [str(e) for e in report.errors]
    assert list(Territory.objects.values_list("code", "name", "population")) == before
    assert read_back(client, users, namespaces=("accounts:",)) == []
