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
