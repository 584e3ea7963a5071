"""`nuisance-zoo demo` (placeholder until the training demo lands)."""


def register(sub) -> None:
    p = sub.add_parser("demo", help="(not yet available)")
    p.set_defaults(func=lambda args: (_ for _ in ()).throw(RuntimeError("'demo' is not available yet")))
