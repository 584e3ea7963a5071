"""`nuisance-zoo publish` (being written)."""


def register(sub) -> None:
    p = sub.add_parser("publish", help="(not yet available)")
    p.set_defaults(func=lambda args: (_ for _ in ()).throw(RuntimeError("'publish' is not available yet")))
