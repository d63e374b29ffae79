"""The domain: one package per capability (base, detection, skills, serving, dataset, labelling, gate, audit).

The package map and the layer rule are in docs/architecture.md; `lint-imports` checks the rule.
"""
