"""The sandbox's group features for imports: column captions, the CSV export, storing a number twice,
a process-then-fail fault, and keeping its data in an SQLite file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx2
import pytest

from lox24_mcp.sandbox import DEMO_TOKEN, Faults, SandboxServer, SandboxState

AUTH = {"X-LOX24-AUTH-TOKEN": DEMO_TOKEN}


def test_demo_groups_have_their_own_column_captions() -> None:
    groups = {g["name"]: g for g in SandboxState().groups()}
    assert (groups["VIP customers"]["name_a"], groups["VIP customers"]["name_b"]) == ("Anrede", "Nachname")
    assert groups["Newsletter"]["name_a"] == "Vorname" and groups["Newsletter"]["name_b"] is None
    with pytest.raises(ValueError, match="a to e"):
        SandboxState(seed_demo_data=False).add_group("Bad", columns={"f": "Sixth"})


@pytest.mark.parametrize("duplicates", ["reject", "store"])
def test_a_number_sent_twice_is_refused_or_stored_again(duplicates: str) -> None:
    state = SandboxState(seed_demo_data=False, duplicates=duplicates)  # type: ignore[arg-type]
    group = state.add_group("G")
    with SandboxServer(state) as server, httpx2.Client(base_url=server.url, headers=AUTH) as http:
        first = http.post(f"/groups/{group}/phones/batch", json=[{"phone": "+4915112345678"}] * 2).json()
        again = http.post(f"/groups/{group}/phones/batch", json=[{"phone": "+4915112345678"}]).json()
    stored = [p["phone"] for p in state.group_phones(group)]
    if duplicates == "reject":
        assert [r["status"] for r in first + again] == [201, 422, 422] and stored == ["+4915112345678"]
    else:
        assert [r["status"] for r in first + again] == [201, 201, 201] and stored == ["+4915112345678"] * 3


def test_the_export_lists_every_stored_row_in_id_order_with_the_groups_captions() -> None:
    state = SandboxState(seed_demo_data=False, duplicates="store", export_delimiter=";")
    group = state.add_group("G", columns={"a": "Vorname", "c": "Kunden;nummer"})
    state.add_phones(group, [{"phone": "+4915112345678", "a": "Jörg", "c": "K-1"}, {"phone": "+4915112345678"}])
    with SandboxServer(state) as server, httpx2.Client(base_url=server.url, headers=AUTH) as http:
        answer = http.get(f"/groups/{group}/file/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8"), newline=""), delimiter=";"))
    assert rows[0] == ["id", "phone", "Vorname", "col_B", "Kunden;nummer", "col_D", "col_E", "callback_data"]
    assert [[*r[:3], r[4]] for r in rows[1:]] == [
        ["1", "+4915112345678", "Jörg", "K-1"],
        ["2", "+4915112345678", "", ""],
    ]
    assert answer.headers["content-disposition"] == f'attachment; filename="group-{group}.csv"'


def test_an_after_fault_does_the_work_then_answers_500() -> None:
    state = SandboxState(seed_demo_data=False)
    group = state.add_group("G")
    state.faults = Faults(after_rate=1.0, after_status=500, only_paths=(f"/groups/{group}/phones/",))
    with SandboxServer(state) as server, httpx2.Client(base_url=server.url, headers=AUTH) as http:
        answer = http.post(f"/groups/{group}/phones/batch", json=[{"phone": "+4915112345678"}])
        export = http.get(f"/groups/{group}/file/csv")
    assert answer.status_code == 500 and "carried out" in answer.json()["detail"]
    assert [p["phone"] for p in state.group_phones(group)] == ["+4915112345678"]
    assert export.status_code == 200 and [r.status for r in state.requests] == [500, 200]


def test_faults_spare_skipped_paths_and_keep_their_seeded_sequence() -> None:
    def statuses(faults: Faults) -> list[int]:
        state = SandboxState(seed_demo_data=False, faults=faults)
        group = state.add_group("G")
        with SandboxServer(state) as server, httpx2.Client(base_url=server.url, headers=AUTH) as http:
            for _ in range(6):
                http.get(f"/groups/{group}/file/csv")
                http.get("/groups")
        return [r.status for r in state.requests]

    spared = statuses(Faults(error_rate=1.0, skip_paths=("/groups/1/file/",)))
    assert spared == [200, 503] * 6
    # An after_rate of 0 draws nothing extra: seeds chosen before it existed give the same sequence.
    assert statuses(Faults(error_rate=0.5, seed=4)) == statuses(Faults(error_rate=0.5, seed=4, after_rate=0.0))


def test_a_sandbox_on_a_file_keeps_its_data_across_processes(tmp_path: Path) -> None:
    db = str(tmp_path / "lox24.sqlite")
    first = SandboxState(seed_demo_data=False, db_path=db)
    group = first.add_group("Kept", columns={"a": "Vorname"})
    first.add_phones(group, [{"phone": "+4915112345678", "a": "Ann"}])
    first.store.close()
    reopened = SandboxState(seed_demo_data=False, db_path=db)
    assert [(g["name"], g["name_a"], g["count_items"]) for g in reopened.groups()] == [("Kept", "Vorname", 1)]
    assert reopened.group_phones(group)[0]["a"] == "Ann"
