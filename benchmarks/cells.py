"""Markdown cells of BENCHMARKS.md, shared by bench.py and cycle_runs.py."""


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def md_row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def fmt_verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"
