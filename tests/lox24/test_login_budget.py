"""LoginBudget: the process-wide rule that keeps many tenants' wrong keys under LOX24's IP block."""

from __future__ import annotations

import anyio
import pytest

from lox24_mcp.lox24.credentials import WINDOW, KeyRefusedError, LoginBudget, NewKeyBudgetError

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_three_failures_a_window_then_unknown_keys_wait_while_known_keys_pass() -> None:
    clock = Clock()
    budget = LoginBudget(clock=clock)
    assert await budget.admit("good") is True
    budget.settle("good", 200)  # it worked: known from now on, and its slot is given back
    for key in ("w1", "w2", "w3"):
        assert await budget.admit(key) is True
        budget.settle(key, 401)
    with pytest.raises(NewKeyBudgetError) as waited:
        await budget.admit("w4")
    assert 0 < waited.value.seconds_left <= WINDOW
    assert await budget.admit("good") is False  # never delayed by the others' failures
    clock.now += WINDOW + 1
    assert await budget.admit("w4") is True  # the window has passed


async def test_a_failed_key_is_refused_locally_for_the_cooldown_then_needs_a_slot_again() -> None:
    clock = Clock()
    budget = LoginBudget(cooldown=600, clock=clock)
    assert await budget.admit("wrong") is True
    budget.settle("wrong", 401)
    clock.now += 599
    with pytest.raises(KeyRefusedError, match="X-LOX24-AUTH-TOKEN"):
        await budget.admit("wrong")
    clock.now += 2
    assert await budget.admit("wrong") is True


async def test_no_answer_gives_the_slot_back_and_keeps_the_key_unknown() -> None:
    budget = LoginBudget(new_keys_per_minute=1, clock=Clock())
    assert await budget.admit("k") is True
    budget.settle("k", None)
    assert await budget.admit("k") is True  # still unknown, and the one slot is free again


async def test_concurrent_requests_with_one_unknown_key_take_one_slot_and_wait_for_its_verdict() -> None:
    budget = LoginBudget(new_keys_per_minute=1, clock=Clock())
    assert await budget.admit("k") is True
    results: list[bool] = []

    async def second() -> None:
        results.append(await budget.admit("k"))

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(second)
            await anyio.wait_all_tasks_blocked()
            assert results == []  # waiting for the first request's answer, not taking another slot
            budget.settle("k", 200)
    assert results == [False]  # known now


async def test_a_known_key_that_lox24_later_refuses_is_refused_locally() -> None:
    budget = LoginBudget(clock=Clock())
    assert await budget.admit("k") is True
    budget.settle("k", 200)
    budget.note("k", 401)  # revoked meanwhile
    with pytest.raises(KeyRefusedError):
        await budget.admit("k")


def test_the_budget_never_allows_more_than_lox24_tolerates() -> None:
    with pytest.raises(ValueError, match="0–3"):
        LoginBudget(new_keys_per_minute=4)
