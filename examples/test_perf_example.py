"""The pytest plugin: `pytest examples/test_perf_example.py` stores a baseline on the first
run (in .perfguard/) and fails a later run if `build_index` got significantly slower."""


def build_index(words: list[str]) -> dict[str, int]:
    return {word: position for position, word in enumerate(sorted(words))}


def test_build_index_speed(perf) -> None:
    words = [f"word{i}" for i in range(2000)]
    index = perf(build_index, words)
    assert index["word0"] == 0
