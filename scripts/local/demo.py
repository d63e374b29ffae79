"""Local mode: the whole pipeline on one machine against the embedded AWS emulator.

The demo is a list of stages; each reads what earlier stages left in the emulator and adds its
figures to the summary. `out/summary.json` is written after every stage, so an interrupted run
still says how far it got.
"""

from __future__ import annotations

import time
from typing import Any

from scripts.commands.output import progress
from scripts.local.demo_run import DemoOptions, DemoRun, Stage
from scripts.local.emulator import running_emulator


def stages() -> list[tuple[str, Stage]]:
    from scripts.local.stages import detection, gate, labelling, loop, serving, training

    return [
        ("restore", gate.restore),
        ("detection", detection.run),
        ("training-data", training.ingest),
        ("labelling", labelling.run),
        ("training", training.run),
        ("gate", gate.run),
        ("serving", serving.run),
        ("loop", loop.run),
    ]


def run_demo(options: DemoOptions) -> dict[str, Any]:
    if not options.images_dir.is_dir():
        raise FileNotFoundError(f"images folder {options.images_dir} does not exist")
    options.out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with running_emulator() as emulator:
        demo = DemoRun(emulator=emulator, options=options)
        demo.progress(f"emulator up at {emulator.endpoint_url}; output in {options.out_dir}/")
        demo.summary["stages_completed"] = []
        planned = stages()
        with progress("demo", total=len(planned)) as bar:
            for name, stage in planned:
                bar.update(description=f"demo: {name}")
                demo.progress(f"stage {name} …")
                stage(demo)
                demo.summary["stages_completed"].append(name)
                demo.write_summary()
                bar.advance()
        demo.summary["total_seconds"] = round(time.perf_counter() - started, 1)
        demo.write_summary()
        return demo.summary
