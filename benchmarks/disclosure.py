"""The disclosure step alone (control_disclosure, as the withheld asset runs it) on the benchmark's cycle and on a
cycle of 250 members (every ISO 3166-1 alpha-3 code and the European Union a member). Not a test.

    .venv/bin/python -m benchmarks.disclosure [--members 186,250] [--rounds 5]

`make bench` runs it through benchmarks/bench.py (worker `disclosure`, one fresh process per size). The cycle
is built the way bench.py builds its KPI stage: the sample submissions of every member in force, the seeded
warehouse of benchmarks/kpi_warehouse.py (some members absent, some blocked, disclosure choices drawn per
member), kpi_values and rollups by the pipeline's SQL, then load_truth as the withheld asset reads it. The
members the reference data lack get the groups of a member already there, drawn by their code: a cycle of
the same shape, only larger. Timed: control_disclosure with the policy's defaults, median of the rounds,
wall and CPU; the integer and linear programs solved in a round are counted.
"""

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

SIZES = (186, 250)
TARGET_250_S = 1.0


def every_iso_code_a_member(reference):
    """The reference data with a membership row, in force from 2000, for every ISO code it lacks."""
    import pycountry

    from benchmarks.kpi_warehouse import CYCLE

    in_force = reference.members_in_force(reference.cycles.get(CYCLE))
    models = sorted(in_force.values(), key=lambda m: m.member_code)
    added = []
    for country in sorted(pycountry.countries, key=lambda c: c.alpha_3):
        code = country.alpha_3
        if code in in_force:
            continue
        model = models[int(hashlib.sha256(code.encode()).hexdigest(), 16) % len(models)]
        name = getattr(country, "common_name", country.name)
        names = {"name_en": name, "name_fr": name, "name_es": name}
        since = {"valid_from": dt.date(2000, 1, 1), "valid_to": None}
        added.append(model.model_copy(update={"member_code": code, **names, **since}))
    return dataclasses.replace(reference, memberships=[*reference.memberships, *added])


def cycle_truth(members: int, work: Path):
    """(facts, members in force, participants) of the benchmark's cycle with `members` members in force."""
    from benchmarks.bench_workers import member_documents, open_warehouse_as_pipeline, shipped_context
    from benchmarks.kpi_rollups import run_pipeline
    from benchmarks.kpi_warehouse import CYCLE, seed_inputs
    from benchmarks.validation import gate_inputs
    from pmm_pipeline.stages.publishing.warehouse_inputs import categorical_levels, load_truth

    reference, catalogue = shipped_context()
    if members != len(reference.members_in_force(reference.cycles.get(CYCLE))):
        reference = every_iso_code_a_member(reference)
    cycle = reference.cycles.get(CYCLE)
    in_force = len(reference.members_in_force(cycle))
    if in_force != members:
        raise ValueError(f"{members} members asked for: the reference data make {in_force} (or all ISO codes)")
    answers = gate_inputs(reference, catalogue, CYCLE, member_documents(reference, catalogue)).answers
    with open_warehouse_as_pipeline(work / "disclosure.duckdb") as conn:
        seed_inputs(conn, reference, catalogue, answers)
        run_pipeline(conn, reference, catalogue)
        levels = categorical_levels(catalogue.kpis_for_version(cycle.catalogue_version), catalogue)
        truth = load_truth(conn, CYCLE, levels)
    participants = len({m for f in truth.facts for m in f.reporters})
    return truth.facts, in_force, participants


@contextmanager
def counting_solves():
    """Counts the programs solved inside: programs.py's by kind, scipy's milp and linprog by name."""
    import scipy.optimize

    from pmm_pipeline.stages.disclosure import programs

    counts = {"milp": 0, "linprog": 0}
    originals = {name: getattr(scipy.optimize, name) for name in counts}
    before = dict(programs.SOLVES)

    def counted(name):
        def call(*args, **kwargs):
            counts[name] += 1
            return originals[name](*args, **kwargs)

        return call

    for name in counts:
        setattr(scipy.optimize, name, counted(name))
    try:
        yield counts
    finally:
        for name, original in originals.items():
            setattr(scipy.optimize, name, original)
        counts.update({kind: n - before.get(kind, 0) for kind, n in programs.SOLVES.items()})


def fresh_caches() -> None:
    """Forget answers kept within the process, so that every round decides from scratch like a new run."""
    from pmm_pipeline.stages.disclosure import solving

    for cache in solving.PROCESS_CACHES:
        cache.clear()


def measure(members: int, rounds: int) -> dict:
    """Median wall and CPU time of control_disclosure over `rounds` rounds, each from empty caches."""
    from pmm_pipeline.core.settings import Settings
    from pmm_pipeline.stages.disclosure.control import control_disclosure

    with tempfile.TemporaryDirectory(prefix="pmm-bench-disclosure-") as tmp:
        facts, in_force, participants = cycle_truth(members, Path(tmp))
    policy = Settings.from_env({})
    walls, cpus, solves, withheld = [], [], {}, None
    for _ in range(rounds):
        fresh_caches()
        with counting_solves() as counts:
            started, started_cpu = time.perf_counter(), time.process_time()
            decided = control_disclosure(facts, policy.min_group_size, coalition=policy.coalition_size)
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - started_cpu)
        solves = dict(counts)
        if withheld is not None and decided != withheld:
            raise RuntimeError("control_disclosure decided differently from one round to the next")
        withheld = decided
    assert withheld is not None
    return {
        "members": in_force,
        "participants": participants,
        "series": len(facts),
        "withheld": len(withheld),
        "digest": hashlib.sha256(repr(withheld).encode()).hexdigest()[:16],
        "solves": solves,
        "all_s": walls,
        "all_cpu_s": cpus,
        "median_s": statistics.median(walls),
        "cpu_median_s": statistics.median(cpus),
    }


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def _solves(solves: dict) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(solves.items()) if n) or "none"


def target_row(results: dict) -> str:
    """The Targets table's row: the 250-member disclosure step against its target."""
    big = results[str(SIZES[-1])]
    ok = big["median_s"] <= TARGET_250_S
    return (
        f"| disclosure step, {big['members']} members (every ISO code a member) | {fmt_s(big['median_s'])}"
        f" ({fmt_s(big['cpu_median_s'])} CPU) | ≤ {TARGET_250_S:.0f} s | {'met' if ok else '**missed**'} |"
    )


def report_lines(results: dict) -> list[str]:
    """The section of BENCHMARKS.md on the disclosure step."""
    lines = [
        "",
        "## Disclosure step",
        "",
        "control_disclosure as the withheld asset runs it (PMM_MIN_GROUP_SIZE and PMM_COALITION_SIZE at their"
        " defaults), on the benchmark's seeded cycle 2025 (benchmarks/disclosure.py: some members absent or blocked,"
        " disclosure choices drawn per member); 250 members: every ISO 3166-1 code and the EU a member, the members"
        " the reference data lack given the groups of one that is there. Each round decides from scratch (answers"
        " kept within the process forgotten); one worker process per size. Programs solved: relaxations of the"
        " level counts' integer programs, depth-first branches on them, HiGHS branch and bound (`integer`), the"
        " bound analysis's linear programs (`linear`), and scipy's milp and linprog (none since programs.py).",
        "",
        "| members in force | reporting | series | withheld statistics | programs solved per round | rounds"
        " | wall (median) | CPU (median) | peak memory |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results.values():
        lines.append(
            f"| {r['members']} | {r['participants']} | {r['series']} | {r['withheld']} | {_solves(r['solves'])}"
            f" | {len(r['all_s'])} | {fmt_s(r['median_s'])} | {fmt_s(r['cpu_median_s'])}"
            f" | {r['peak_bytes'] / 2**20:.0f} MiB |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default=",".join(map(str, SIZES)))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for members in map(int, args.members.split(",")):
        print(json.dumps(measure(members, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
