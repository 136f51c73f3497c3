"""Sign-in back-off: per account and address, per address, per account; known and unknown names alike."""

from __future__ import annotations

from review_data.sign_in_throttle import MAX_WAIT_S, SignInThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_waits_double_after_the_allowance_and_a_right_password_clears_them():
    clock = Clock()
    throttle = SignInThrottle(clock)
    for _ in range(5):
        assert throttle.wait("Ana", "10.0.0.1") == 0
        throttle.failed("ana", "10.0.0.1")
    assert throttle.wait("ana", "10.0.0.1") == 0  # five mistakes are free
    waits = []
    for _ in range(12):
        throttle.failed("ana", "10.0.0.1")
        waits.append(throttle.wait(" ANA ", "10.0.0.1"))  # the name as typed, any case or spaces
    assert waits[:4] == [2, 4, 8, 16] and waits[-1] == MAX_WAIT_S
    assert throttle.wait("ana", "10.0.0.2") == 0  # the same account from another address: under its own allowance
    assert throttle.wait("bea", "10.0.0.1") == 0  # another account from this address: 17 failures, under 20
    clock.now += MAX_WAIT_S
    assert throttle.wait("ana", "10.0.0.1") == 0
    throttle.succeeded("ana", "10.0.0.1")
    throttle.failed("ana", "10.0.0.1")
    assert throttle.wait("ana", "10.0.0.1") == 0  # counting starts again


def test_spraying_one_address_and_guessing_from_many_both_back_off_and_old_failures_are_forgotten():
    clock = Clock()
    throttle = SignInThrottle(clock)
    for i in range(21):
        throttle.failed(f"user{i}", "10.0.0.9")  # one wrong password for each of 21 names (known or not: all alike)
    assert throttle.wait("someone-new", "10.0.0.9") == 2
    for i in range(51):
        throttle.failed("dora", f"10.1.{i}.1")  # one account from 51 machines
    assert throttle.wait("dora", "10.2.0.1") == 2
    clock.now += 3601
    assert throttle.wait("dora", "10.2.0.1") == 0 and throttle.wait("someone-new", "10.0.0.9") == 0
