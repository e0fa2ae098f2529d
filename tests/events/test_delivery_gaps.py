"""The consumer acknowledges a batch with one acknowledgement for all of it, so it first checks
that no delivery between the last batch and this one went missing."""

from __future__ import annotations

import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from cardpilot.stream.consumer import (
    DeliveryGapError,
    check_deliveries,
    delivered_as,
    stored_s,
)


def _delivered(number: int, domain: bool = False) -> Msg:
    # The acknowledgement subjects the server writes: without and with a domain.
    at = 1733443200000000000
    if domain:
        reply = f"$JS.ACK.hub.ACCHASH.EVENTS.intake.1.{number + 100}.{number}.{at}.0.r"
    else:
        reply = f"$JS.ACK.EVENTS.intake.1.{number + 100}.{number}.{at}.0"
    return Msg(Client(), subject="cardpilot.events.in", reply=reply)


def test_the_delivery_number_is_read_from_either_kind_of_acknowledgement_subject() -> None:
    assert delivered_as(_delivered(7).reply) == 7
    assert delivered_as(_delivered(7, domain=True).reply) == 7


def test_when_the_stream_stored_a_message_is_read_from_either_kind_of_subject() -> None:
    assert stored_s(_delivered(7).reply) == 1733443200.0
    assert stored_s(_delivered(7, domain=True).reply) == 1733443200.0


def test_consecutive_deliveries_pass_and_give_the_last() -> None:
    assert check_deliveries([], None) is None
    first = check_deliveries([_delivered(n) for n in (41, 42, 43)], None)
    assert first == 43
    assert check_deliveries([_delivered(44), _delivered(45)], first) == 45


def test_a_missing_delivery_stops_the_batch_before_it_is_acknowledged() -> None:
    with pytest.raises(DeliveryGapError, match="delivery 44 of the consumer never arrived"):
        check_deliveries([_delivered(45)], 43)
    with pytest.raises(DeliveryGapError, match=r"\(the next was 47\)"):
        check_deliveries([_delivered(44), _delivered(45), _delivered(47)], 43)
