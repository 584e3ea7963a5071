"""`nuisance-zoo evaluate` (being written)."""


def register(sub) -> None:
    p = sub.add_parser("evaluate", help="(not yet available)")
    p.set_defaults(func=lambda args: (_ for _ in ()).throw(RuntimeError("'evaluate' is not available yet")))
