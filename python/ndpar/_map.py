"""ndpar.map_chunks (placeholder until it lands)."""


def map_chunks(func, *arrays, **kw):  # pragma: no cover - replaced next
    raise NotImplementedError("map_chunks")
