"""Bad input never vanishes: every asynchronously invoked function keeps what it could not handle."""

from __future__ import annotations

from tests.infra.conftest import Synthesized


def test_every_function_an_eventbridge_rule_invokes_sends_its_failures_to_a_queue(
    synthesized: Synthesized,
) -> None:
    # GIVEN the functions EventBridge rules invoke (asynchronously) and the functions' invoke configs
    targets = {
        target["Arn"]["Fn::GetAtt"][0]
        for rule in synthesized.of_type("AWS::Events::Rule").values()
        for target in rule["Properties"]["Targets"]
        if "Fn::GetAtt" in target["Arn"]
    }
    functions = set(synthesized.of_type("AWS::Lambda::Function"))
    invoked = targets & functions
    on_failure = {
        config["Properties"]["FunctionName"]["Ref"]: config["Properties"]["DestinationConfig"]["OnFailure"]
        for config in synthesized.of_type("AWS::Lambda::EventInvokeConfig").values()
        if "DestinationConfig" in config["Properties"]
    }
    queues = set(synthesized.of_type("AWS::SQS::Queue"))
    # THEN each one, after its retries, puts the failed event (with the error) into an SQS queue
    assert invoked, "no EventBridge-invoked function found"
    for function in sorted(invoked):
        assert function in on_failure, f"{function} has no on-failure destination"
        assert on_failure[function]["Destination"]["Fn::GetAtt"][0] in queues, function


def test_the_detect_function_sends_what_it_gives_up_on_to_the_detect_dlq_with_the_reason(
    synthesized: Synthesized,
) -> None:
    # GIVEN the detect function, the detect queue and its dead-letter queue as synthesized
    stack = synthesized.stack
    function = synthesized.resources[synthesized.logical_id(stack.detection.function)]["Properties"]
    queue = synthesized.resources[synthesized.logical_id(stack.ingest.queue)]["Properties"]
    dlq_id = synthesized.logical_id(stack.ingest.dlq)
    environment = function["Environment"]["Variables"]
    mapping = next(iter(synthesized.of_type("AWS::Lambda::EventSourceMapping").values()))["Properties"]

    # THEN the function knows the DLQ and gives up after the queue's own max receive count
    assert environment["SKILLFORGE_DETECT_DLQ_URL"] == {"Ref": dlq_id}
    redrive = queue["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert environment["SKILLFORGE_DETECT_MAX_RECEIVE_COUNT"] == str(redrive["maxReceiveCount"])
    # AND it reports batch item failures (so only failed records are retried) and may send to the DLQ
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    granted = synthesized.granted(stack.detection.role)
    assert "sqs:SendMessage" in granted[synthesized.arn(stack.ingest.dlq)]
