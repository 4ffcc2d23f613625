"""EventBridge TestEventPattern (moto 5.2.5 has the operation but answers nothing).

AWS API reference:
https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_TestEventPattern.html
Request: `{"EventPattern": "string", "Event": "string"}`, both required. Event: "The
event, in JSON format, to test against the event pattern. The JSON must follow the format
specified in Amazon Web Services Events, and the following fields are mandatory: id,
account, source, time, region, resources, detail-type." Response: `{"Result": boolean}`,
"The result of the test." Errors: InvalidEventPatternException, "The event pattern is not
valid."; an input that fails the operation's constraints is the common
ValidationException
(https://docs.aws.amazon.com/eventbridge/latest/APIReference/CommonErrors.html).

The pattern is parsed and matched by moto's own event-pattern code
(`moto.events.models.EventPatternParser` and `EventPattern.matches_event`), the code
moto uses to decide which rules' targets receive an event from PutEvents: a test against
it says what moto's rules would do with the event. This patch only gives that matcher
the operation's request and response.
"""

import json

MANDATORY = ("id", "account", "source", "time", "region", "resources", "detail-type")


def apply() -> None:
    from moto.events.responses import EventsHandler

    if getattr(EventsHandler.test_event_pattern, "_infra_patched", False):
        return

    def test_event_pattern(self):  # type: ignore[no-untyped-def]
        from moto.events.models import EventPattern, EventPatternParser

        raw_pattern = self._get_param("EventPattern")
        raw_event = self._get_param("Event")
        if not raw_pattern or not raw_event:
            return self.error("ValidationException", "EventPattern and Event are required.")
        try:
            event = json.loads(raw_event)
        except json.JSONDecodeError:
            return self.error("ValidationException", "Parameter Event is not valid.")
        if not isinstance(event, dict) or any(field not in event for field in MANDATORY):
            return self.error("ValidationException", "Parameter Event is not valid.")
        pattern = EventPatternParser(raw_pattern).parse()  # InvalidEventPatternException
        result = EventPattern(raw_pattern, pattern).matches_event(event)
        return self._create_response({"Result": result})

    test_event_pattern._infra_patched = True  # type: ignore[attr-defined]
    EventsHandler.test_event_pattern = test_event_pattern
