"""Gate: regression of candidate vs deployed, the gate rule, evaluation, report, notifications."""
