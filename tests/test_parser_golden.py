"""The parser gives the same outputs as the golden file (tests/golden.py): on every labelled set
and on 100,000 simulated comments. A speed-up must not move one; an intended fix regenerates the
file in its own commit (`python -m tests.golden --write`) and names the fix."""

from __future__ import annotations

from .golden import GOLDEN, read_golden, run


def test_outputs_equal_the_golden_file() -> None:
    want_digest, want = read_golden()
    cases, digest, got = run()
    assert digest == want_digest, (
        f"the inputs changed (labelled sets or simulator): regenerate {GOLDEN.name}"
    )
    differ = [(c, g, w) for c, g, w in zip(cases, got, want, strict=True) if g != w]
    shown = "\n".join(f"{c}\n  got  {g}\n  want {w}" for c, g, w in differ[:10])
    assert not differ, f"{len(differ)} of {len(got)} outputs differ from {GOLDEN.name}:\n{shown}"
